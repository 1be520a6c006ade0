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
// would stall the pod for nothing. Except for a little: less than ACK_LATER bytes
// parsed with xterm.js caught up (a keystroke's echo, a prompt) are acknowledged
// ACK_DELAY_MS later, together with whatever follows. An ack right after each echo
// would cost a round of kernel messages (comm message, busy, idle) per keystroke,
// competing with the next keystroke's echo, for a window of megabytes that small
// output never fills.
//
// Output waits in a queue here and is handed to xterm.js at most LOOKAHEAD bytes ahead
// of its parser (each write's callback hands over the next slice, so the parser never
// starves). xterm.js cannot take back what it was given, but this queue can be
// dropped: when the kernel skips ahead after Ctrl-C (a "skip" message), the view only
// has the lookahead left to draw, not the whole window.

/** Parsed bytes gathered before an ack is sent while more output is queued. */
export const ACK_CHUNK = 512 * 1024;
/** Fewer parsed bytes than this, with xterm.js caught up, are acknowledged later... */
export const ACK_LATER = 32 * 1024;
/** ...this many milliseconds later (the kernel skips ahead only 128 KiB behind). */
export const ACK_DELAY_MS = 500;
/** Bytes handed to xterm.js and not parsed yet, at most (~40 ms of drawing a flood). */
export const LOOKAHEAD = 64 * 1024;
/** Largest single write to xterm.js: a message is handed over in slices of this size. */
export const SLICE = 16 * 1024;

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
    this._later = null; // the timer of a delayed ack
    this._disposed = false;
    /** @type {{bytes: Uint8Array, ack: boolean}[]} output not handed to xterm yet */
    this._queue = [];
    this._head = 0; // index of the queue's first entry
    this._pumping = false;
    this._inTerm = 0; // bytes handed to xterm and not parsed yet
    /** Bytes received and not yet parsed (queued or in xterm): the browser-side watermark. */
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
    if (this._inTerm === 0 && this._head === this._queue.length && n <= SLICE) {
      this._hand(bytes, ack); // the common case (an echo): no queue at all
      return;
    }
    for (let i = 0; i < n; i += SLICE) this._queue.push({ bytes: bytes.subarray(i, i + SLICE), ack });
    this._pump();
  }

  /**
   * Drop the output not handed to xterm yet (the kernel skipped ahead); it counts as
   * acknowledged unless `ack` is false (a new stream replaces it). Replayed bytes stay.
   * @param {boolean} ack
   * @returns {number} bytes dropped
   */
  skip(ack = true) {
    let dropped = 0;
    const kept = [];
    for (let i = this._head; i < this._queue.length; i++) {
      const entry = this._queue[i];
      if (entry.ack) dropped += entry.bytes.byteLength;
      else kept.push(entry);
    }
    this._queue = kept;
    this._head = 0;
    this.pending -= dropped;
    if (dropped > 0 && ack) this._ack(dropped);
    return dropped;
  }

  _pump() {
    // xterm.js may parse a write at once and call back from inside it (right after a
    // keystroke): that callback's pump is this loop's next turn.
    if (this._pumping) return;
    this._pumping = true;
    try {
      while (this._inTerm < LOOKAHEAD && this._head < this._queue.length) {
        const { bytes, ack } = this._queue[this._head];
        this._queue[this._head++] = undefined;
        this._hand(bytes, ack);
      }
      if (this._head === this._queue.length) {
        this._queue = [];
        this._head = 0;
      }
    } finally {
      this._pumping = false;
    }
  }

  _hand(bytes, ack) {
    const n = bytes.byteLength;
    this._inTerm += n;
    this._term.write(bytes, () => {
      this._inTerm -= n;
      this.pending -= n;
      this._ack(ack ? n : 0); // replayed bytes are not counted, but may end a backlog
      if (!this._disposed) this._pump();
    });
  }

  _ack(n) {
    if (this._disposed) return;
    this._toAck += n;
    if (this._scheduled || (this._toAck < ACK_CHUNK && this.pending > 0)) return;
    if (this._toAck < ACK_LATER) {
      if (this._toAck > 0 && this._later === null) {
        this._later = setTimeout(() => {
          this._later = null;
          if (!this._disposed && !this._scheduled && this._toAck > 0) this._flushAck();
        }, ACK_DELAY_MS);
      }
      return;
    }
    this._flushAck();
  }

  _flushAck() {
    if (this._later !== null) {
      clearTimeout(this._later);
      this._later = null;
    }
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
    if (this._later !== null) clearTimeout(this._later);
  }
}
