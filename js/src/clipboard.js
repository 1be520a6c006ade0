// Clipboard beyond the keys (Ctrl+Shift+C / Ctrl+Shift+V are in keyboard.js):
//
// * Right-click in the terminal opens a small Copy / Paste menu instead of the
//   notebook's. Copy needs a selection; Paste reads the clipboard where the browser
//   allows it (navigator.clipboard.readText: a secure page and the user's permission).
// * OSC 52 (a program in the pod setting the user's clipboard, e.g. tmux or vim's
//   "+y over SSH) is ignored unless the `clipboardWrite` option is true: a pod must
//   not write the clipboard silently. Reading the clipboard through OSC 52 is never
//   answered.

/** Largest clipboard text accepted from OSC 52 (decoded bytes). */
const MAX_OSC52 = 1024 * 1024;

function menuItem(label, name) {
  const item = document.createElement("button");
  item.type = "button";
  item.className = "k8stty-menu-item";
  item.setAttribute("role", "menuitem");
  item.dataset.k8sttyMenu = name;
  item.textContent = label;
  return item;
}

function decodeBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/**
 * @param {{term: import("@xterm/xterm").Terminal, root: HTMLElement, screen: HTMLElement,
 *          model: any, line: any, guard: Function}} parts
 * @returns {{dispose(): void}}
 */
export function createClipboard({ term, root, screen, model, line, guard }) {
  const menu = document.createElement("div");
  menu.className = "k8stty-menu";
  menu.setAttribute("role", "menu");
  menu.hidden = true;
  const copy = menuItem("Copy", "copy");
  const paste = menuItem("Paste", "paste");
  menu.append(copy, paste);
  root.append(menu);

  const hide = () => {
    menu.hidden = true;
  };
  const canRead = () => !!navigator.clipboard?.readText && window.isSecureContext;

  const onContextMenu = guard("opening the clipboard menu", (event) => {
    if (event.shiftKey) return; // Shift+right-click: the browser's own menu
    event.preventDefault();
    event.stopPropagation(); // not JupyterLab's menu
    copy.disabled = !term.hasSelection();
    paste.disabled = !canRead();
    const box = root.getBoundingClientRect();
    menu.style.left = `${event.clientX - box.left}px`;
    menu.style.top = `${event.clientY - box.top}px`;
    menu.hidden = false;
    (copy.disabled ? paste : copy).focus();
  });
  screen.addEventListener("contextmenu", onContextMenu);

  copy.addEventListener("click", guard("copying", () => {
    hide();
    term.focus();
    const text = term.getSelection();
    if (text) {
      navigator.clipboard.writeText(text).catch((error) => {
        line.show(`copying failed: ${error?.message || error}`, "note");
      });
    }
  }));
  paste.addEventListener("click", guard("pasting", () => {
    hide();
    term.focus(); // at once: a key pressed before the text arrives belongs to the terminal
    navigator.clipboard.readText().then(
      guard("pasting", (text) => {
        if (text) term.paste(text);
      }),
      (error) => line.show(`the browser did not allow reading the clipboard (${error?.message || error}): ` +
                           "paste with Ctrl+Shift+V", "note"),
    );
  }));
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      hide();
      term.focus();
    }
  });
  const onPointer = (event) => {
    if (!menu.hidden && !menu.contains(event.target)) hide();
  };
  document.addEventListener("pointerdown", onPointer, true);

  let warned = false;
  const osc52 = term.parser.registerOscHandler(52, guard("OSC 52", (data) => {
    const [, payload = ""] = data.split(/;(.*)/s);
    if (payload === "?" ) return true; // a read request: never answered
    if (!model.get("options")?.clipboardWrite) {
      if (!warned) {
        warned = true;
        line.show("the pod tried to set your clipboard (OSC 52): ignored; allow it with the " +
                  "option clipboardWrite=true", "note");
      }
      return true;
    }
    if (payload.length > (MAX_OSC52 * 4) / 3 + 4) return true;
    let text;
    try {
      text = decodeBase64(payload);
    } catch {
      return true; // not base64: ignored
    }
    navigator.clipboard?.writeText(text).catch((error) => {
      console.warn("jupyter-k8stty: OSC 52 clipboard write failed", error);
    });
    return true;
  }));

  return {
    dispose() {
      osc52.dispose();
      screen.removeEventListener("contextmenu", onContextMenu);
      document.removeEventListener("pointerdown", onPointer, true);
      menu.remove();
    },
  };
}
