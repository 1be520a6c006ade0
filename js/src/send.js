// Messages that must not wait behind a running cell.
//
// JupyterLab sends widget messages over a kernel subshell (comms over subshells), so
// they are handled while a cell runs. But it asks the kernel for that subshell only
// when the comm opens: the first messages of a terminal made by a running cell can
// leave before the subshell exists, go to the main shell and wait for the cell to end.
// So a message the kernel has not started on within a moment (no "busy" status for
// it, seen through the send callbacks) is sent again; by then it takes the subshell.
// Without subshells every copy waits, and the kernel handles them once the cell ends:
// callers send only messages that are harmless twice (`ready`) or carry an id the
// kernel answers once (`bundle`).

/** Milliseconds after which an unstarted message is sent again, one entry per resend. */
export const RESEND_AFTER_MS = [400, 1500];

/**
 * Send `content` now, and again while the kernel has not started on it.
 * @param {{send: Function}} model - the anywidget model
 * @param {object} content
 * @param {number[]} delays
 * @returns {() => void} stop resending
 */
export function sendNoticed(model, content, delays = RESEND_AFTER_MS) {
  let started = false;
  let timer = null;
  const callbacks = { iopub: { status: () => (started = true) } };
  const attempt = (left) => {
    model.send(content, callbacks);
    if (left.length === 0) return;
    timer = setTimeout(() => {
      if (!started) attempt(left.slice(1));
    }, left[0]);
  };
  attempt(delays);
  return () => clearTimeout(timer);
}
