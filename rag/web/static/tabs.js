// Each browser tab keeps its own conversation. gr.BrowserState keeps one value in localStorage for the
// whole address, so a question or a Clear in a second tab replaced the first tab's conversation (a tester
// lost one so). Gradio has no per-tab storage: this script, in the page's head, runs before the kept
// conversation is read, and files it under the tab's own id (in sessionStorage: a reload keeps it, another
// tab has its own). A new tab goes on from the conversation written last, its own copy once it asks.
(() => {
  const KEY = __CONVERSATION_KEY__;  // gr.BrowserState's storage_key, written in by rag/web/app.py
  const TABS = KEY + ":tabs";  // the tabs' ids, the latest first; the conversations of older ones are dropped
  const KEEP = 10;
  const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2);
  let tab;
  try {
    tab = sessionStorage.getItem("news-chat-tab") || newId();
    sessionStorage.setItem("news-chat-tab", tab);
  } catch (e) {
    return;  // no sessionStorage: one conversation for every tab, as Gradio keeps it
  }
  const { getItem, setItem, removeItem } = Storage.prototype;
  const tabs = () => {
    try {
      return JSON.parse(getItem.call(localStorage, TABS)) || [];
    } catch (e) {
      return [];
    }
  };
  // Only a tab whose conversation is its own is filed under its id, and counts toward KEEP: one the reader
  // asked in (Enter in the question box, or Ask) or cleared (the chat's clear event calls newsChatOwn: the
  // button's label is in the browser's language), now or before (filed already). Gradio writes
  // back what it read as a page loads: every tab opened was filed, and ten tabs opened and left pushed ten
  // real conversations out. A tab that never was the reader's reads the latest conversation.
  let own = false;
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && e.target.closest?.("#question")) own = true;
  }, true);
  document.addEventListener("click", (e) => {
    if (e.target.closest?.("#ask-button")) own = true;
  }, true);
  window.newsChatOwn = () => { own = true; };
  const file = (value) => {
    try {
      const kept = [tab, ...tabs().filter((t) => t !== tab)];
      kept.slice(KEEP).forEach((t) => removeItem.call(localStorage, KEY + ":" + t));  // room first: storage may be full
      setItem.call(localStorage, TABS, JSON.stringify(kept.slice(0, KEEP)));
      setItem.call(localStorage, KEY + ":" + tab, value);
    } catch (e) { /* storage full: this tab's copy is not kept; the latest (below) still is, when it fits */ }
  };
  // A tab the browser duplicates copies sessionStorage, and with it the id: the tab that has the id says
  // so, and the newcomer takes one of its own (it has read the same conversation: its copy).
  try {
    const channel = new BroadcastChannel("news-chat-tabs");
    channel.onmessage = (e) => {
      if (e.data && e.data.asks === tab) channel.postMessage({has: tab});
      else if (e.data && e.data.has === tab && !e.data.asks) {
        const copy = getItem.call(localStorage, KEY + ":" + tab);  // the original's, when it has one
        tab = newId();
        sessionStorage.setItem("news-chat-tab", tab);
        if (copy !== null) file(copy);
      }
    };
    channel.postMessage({asks: tab});
  } catch (e) { /* no BroadcastChannel: a duplicated tab shares its original's conversation */ }
  Storage.prototype.getItem = function (key) {
    if (this !== window.localStorage || key !== KEY) return getItem.call(this, key);
    const mine = getItem.call(this, KEY + ":" + tab);
    return mine !== null ? mine : getItem.call(this, KEY);
  };
  Storage.prototype.setItem = function (key, value) {
    if (this !== window.localStorage || key !== KEY) return setItem.call(this, key, value);
    if (own || tabs().includes(tab)) file(value);
    setItem.call(this, KEY, value);  // the latest, for the next new tab
  };
})();
