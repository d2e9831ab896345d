// SPDX-License-Identifier: Apache-2.0
/**
 * The selector-loop kernel that the TCP splicer and the DNS-over-TCP server share: one thread, one
 * selector, a task queue with a guarded wakeup, a deadline, accepting with backoff, contained keys
 * and tasks, and a selector that is rebuilt when {@code select()} fails. Exported only to {@code
 * io.github.apnsproxy.dns} and {@code io.github.apnsproxy.tcp}; not API.
 */
@NullMarked
package io.github.apnsproxy.core.internal.loop;

import org.jspecify.annotations.NullMarked;
