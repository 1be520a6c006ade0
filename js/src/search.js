// Search the scrollback (@xterm/addon-search): a small box under the header.
//
// Ctrl+Shift+F in the terminal or the header's search button opens it; typing
// searches as you go; Enter / Shift+Enter go to the next / previous match; every
// match is highlighted and the box counts them ("3/17"); Escape (or ×) closes it
// and gives the keyboard back to the terminal. "Aa" makes the search case-sensitive,
// ".*" reads it as a regular expression.

import { SearchAddon } from "@xterm/addon-search";

import { icon } from "./icons.js";
import { isDarkTheme } from "./terminal.js";

/** Matches highlighted at most (the count goes on beyond it). */
const HIGHLIGHT_LIMIT = 2000;

function decorations() {
  // The addon wants #RRGGBB colours.
  return isDarkTheme()
    ? { matchBackground: "#5c4a00", matchOverviewRuler: "#c8a600",
        activeMatchBackground: "#b35c00", activeMatchColorOverviewRuler: "#ff9800" }
    : { matchBackground: "#fff0a0", matchOverviewRuler: "#d4b000",
        activeMatchBackground: "#ffb74d", activeMatchColorOverviewRuler: "#ef6c00" };
}

function node(tag, className, text) {
  const el = document.createElement(tag);
  el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function toggle(label, text, title) {
  const button = node("button", "k8stty-search-toggle", text);
  button.type = "button";
  button.setAttribute("aria-label", label);
  button.setAttribute("aria-pressed", "false");
  button.title = title;
  return button;
}

function small(label, text, title, name) {
  const button = node("button", "k8stty-search-button", text);
  button.type = "button";
  button.setAttribute("aria-label", label);
  button.title = title;
  button.dataset.k8sttySearch = name;
  return button;
}

/**
 * @param {{term: import("@xterm/xterm").Terminal, header: any, guard: Function}} parts
 * @returns {{open(): void, close(): void, readonly isOpen: boolean, dispose(): void}}
 */
export function createSearch({ term, header, guard }) {
  const addon = new SearchAddon({ highlightLimit: HIGHLIGHT_LIMIT });
  term.loadAddon(addon);

  const panel = node("div", "k8stty-search");
  panel.setAttribute("role", "search");
  panel.hidden = true;
  const input = node("input", "k8stty-search-input");
  input.type = "text";
  input.placeholder = "Search the scrollback";
  input.setAttribute("aria-label", "Search the scrollback");
  input.spellcheck = false;
  input.autocomplete = "off";
  const caseButton = toggle("Match case", "Aa", "Match case");
  caseButton.dataset.k8sttySearch = "case";
  const regexButton = toggle("Regular expression", ".*", "Use a regular expression");
  regexButton.dataset.k8sttySearch = "regex";
  const count = node("span", "k8stty-search-count");
  count.setAttribute("aria-live", "polite");
  const previous = small("Previous match", "\u2191", "Previous match (Shift+Enter)", "previous");
  const next = small("Next match", "\u2193", "Next match (Enter)", "next");
  const close = small("Close search", "\u00d7", "Close search (Escape)", "close");
  panel.append(input, caseButton, regexButton, count, previous, next, close);
  header.addPanel(panel);

  const options = () => ({
    caseSensitive: caseButton.getAttribute("aria-pressed") === "true",
    regex: regexButton.getAttribute("aria-pressed") === "true",
    decorations: decorations(),
  });

  const showCount = (text, state = "") => {
    count.textContent = text;
    count.dataset.state = state;
  };

  const find = (direction, incremental = false) => {
    const text = input.value;
    if (!text) {
      addon.clearDecorations();
      showCount("");
      return;
    }
    if (options().regex) {
      try {
        new RegExp(text);
      } catch {
        addon.clearDecorations();
        showCount("bad regex", "error");
        return;
      }
    }
    const found = direction === "previous"
      ? addon.findPrevious(text, options())
      : addon.findNext(text, { ...options(), incremental });
    if (!found) showCount("no matches", "none");
  };

  const results = addon.onDidChangeResults(guard("counting matches", ({ resultIndex, resultCount }) => {
    if (!input.value) return;
    if (resultCount === 0) showCount("no matches", "none");
    else if (resultIndex < 0) showCount(`${resultCount}+`); // beyond the highlight limit
    else showCount(`${resultIndex + 1}/${resultCount}`);
  }));

  const api = {
    get isOpen() {
      return !panel.hidden;
    },
    open() {
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      if (!input.value && term.hasSelection()) {
        const selected = term.getSelection();
        if (!selected.includes("\n")) input.value = selected;
      }
      input.focus();
      input.select();
      if (input.value) find("next", true);
    },
    close() {
      if (panel.hidden) return;
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
      addon.clearDecorations();
      term.clearSelection();
      showCount("");
      term.focus();
    },
    dispose() {
      results.dispose();
      panel.remove();
      button.remove();
      addon.dispose();
    },
  };

  const button = header.addAction({
    action: "search", label: "Search", title: "Search the scrollback (Ctrl+Shift+F)",
    text: icon("search"), onClick: guard("opening the search", () => api.open()),
  });
  button.setAttribute("aria-expanded", "false");

  input.addEventListener("input", guard("searching", () => find("next", true)));
  input.addEventListener("keydown", guard("searching", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      find(event.shiftKey ? "previous" : "next");
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation(); // not the full-screen's Escape
      api.close();
    }
  }));
  for (const toggleButton of [caseButton, regexButton]) {
    toggleButton.addEventListener("click", guard("searching", () => {
      const on = toggleButton.getAttribute("aria-pressed") !== "true";
      toggleButton.setAttribute("aria-pressed", String(on));
      // addon-search 0.16 records the new options before it compares them with the
      // last ones, so the same term keeps its old highlights: forget the term first.
      addon.clearDecorations();
      find("next", true);
      input.focus();
    }));
  }
  previous.addEventListener("click", guard("searching", () => find("previous")));
  next.addEventListener("click", guard("searching", () => find("next")));
  close.addEventListener("click", guard("closing the search", () => api.close()));
  return api;
}
