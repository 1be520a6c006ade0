// Flow control, browser side.
//
// The kernel counts every output byte it sends and lets the pod's exec session
// run ahead by at most a window (2 MiB by default) of bytes that no view has
// acknowledged yet.  A view acknowledges bytes only once xterm.js has *parsed*
// them (the callback of `term.write(data, callback)`), so a slow or throttled
// browser tab slows the pod down instead of piling megabytes up in memory.
//
// Acks are batched: one message once ACK_CHUNK parsed bytes have gathered, or as
// soon as xterm.js has caught up with everything it was given. Each ack costs the
// kernel a shell message (and ipykernel flushes its streams per message), so one
// per output message would throttle a flood; holding acks while xterm.js is idle
// would stall the pod for nothing.

/** Parsed bytes gathered before an ack is sent while more output is queued. */
export const ACK_CHUNK = 512 * 1024;

export class FlowWriter {
  /**
   * @param {import("@xterm/xterm").Terminal} term
   * @param {(nbytes: number) => void} sendAck
   */
  constructor(term, sendAck) {
    this._term = term;
    this._sendAck = sendAck;
    this._toAck = 0;
    this._scheduled = false;
    this._disposed = false;
    /** Bytes handed to xterm and not yet parsed: the browser-side watermark. */
    this.pending = 0;
  }

  /**
   * Write bytes to the terminal.
   * @param {Uint8Array} bytes
   * @param {boolean} ack - false for replayed history, which the kernel does not count.
   */
  write(bytes, ack = true) {
    const n = bytes.byteLength;
    if (n === 0) return;
    this.pending += n;
    this._term.write(bytes, () => {
      this.pending -= n;
      if (ack) this._ack(n);
    });
  }

  _ack(n) {
    if (this._disposed) return;
    this._toAck += n;
    if (this._scheduled || (this._toAck < ACK_CHUNK && this.pending > 0)) return;
    this._scheduled = true;
    queueMicrotask(() => {
      this._scheduled = false;
      const total = this._toAck;
      this._toAck = 0;
      if (total > 0 && !this._disposed) this._sendAck(total);
    });
  }

  dispose() {
    this._disposed = true;
  }
}
