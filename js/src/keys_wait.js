// "keys wait for the running cell", said in the terminal's header while it is true.
// Started by the terminal view (widget.js), in the bundle: the loader stays small.
//
// Where the kernel has no subshell for widget messages (ipykernel 6, JupyterLab < 4.4,
// classic Notebook, marimo), keys typed while a cell runs wait in the kernel's queue
// and are delivered, in order, once the cell ends; the pod's output still streams,
// since it leaves from the kernel's threads. The view cannot see that queue, so it
// goes by what it sees: a key typed into the terminal, then no message from the kernel
// for NOTICE_AFTER_MS while the kernel is busy (or its state is unknown, as in marimo).
// The next message from the kernel, or the kernel going idle, clears the notice.
// Where subshells carry the keys, their echo comes back well before: nothing shows.

export const NOTICE_AFTER_MS = 1000;
export const NOTICE_TEXT = "keys wait for the running cell";

/**
 * Watch one terminal view; return its cleanup.
 * @param {{model: object, el: HTMLElement}} view - the anywidget view
 * @returns {() => void}
 */
export function watchKeysWaiting({ model, el }) {
  const kernel = model.widget_manager?.kernel ?? null;
  let timer = null;
  let notice = null;

  const busy = () => !kernel || typeof kernel.status !== "string" || kernel.status === "busy";
  const hide = () => {
    clearTimeout(timer);
    timer = null;
    notice?.remove();
    notice = null;
  };
  const show = () => {
    timer = null;
    const header = el.querySelector(".k8stty-header");
    if (notice || !header || !busy()) return;
    notice = document.createElement("span");
    notice.className = "k8stty-keys-wait";
    notice.textContent = NOTICE_TEXT;
    notice.title = "The kernel takes the keys once the cell ends";
    notice.style.cssText = "font-style:italic;white-space:nowrap;color:var(--jp-warn-color0,#bf6900)";
    const pill = header.querySelector(".k8stty-status");
    if (pill) pill.after(notice);
    else header.append(notice);
  };
  const onKey = (event) => {
    // Keys a shell echoes: characters, Enter, Backspace (not modifiers, arrows or shortcuts).
    const echoed = event.key.length === 1 || event.key === "Enter" || event.key === "Backspace";
    if (!echoed || event.ctrlKey || event.metaKey || event.altKey) return;
    const screen = el.querySelector(".k8stty-screen");
    if (!screen?.contains(event.target) || timer !== null || notice) return;
    timer = setTimeout(show, NOTICE_AFTER_MS);
  };
  const onStatus = () => {
    if (!busy()) hide();
  };

  el.addEventListener("keydown", onKey, true);
  model.on("msg:custom", hide);
  kernel?.statusChanged?.connect?.(onStatus);
  return () => {
    hide();
    el.removeEventListener("keydown", onKey, true);
    model.off("msg:custom", hide);
    kernel?.statusChanged?.disconnect?.(onStatus);
  };
}
