// Each browser tab keeps its own conversation. gr.BrowserState keeps one value in localStorage for the
// whole address, so a question or a Clear in a second tab replaced the first tab's conversation (a tester
// lost one so). Gradio has no per-tab storage: this script, in the page's head, runs before the kept
// conversation is read, and files it under the tab's own id (in sessionStorage: a reload keeps it, another
// tab has its own). A new tab goes on from the conversation written last, as a copy of its own.
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
  // A tab the browser duplicates copies sessionStorage, and with it the id: the tab that has the id says
  // so, and the newcomer takes one of its own (it has read the same conversation: its copy).
  try {
    const channel = new BroadcastChannel("news-chat-tabs");
    channel.onmessage = (e) => {
      if (e.data && e.data.asks === tab) channel.postMessage({has: tab});
      else if (e.data && e.data.has === tab && !e.data.asks) {
        const copy = localStorage.getItem(KEY);  // (the original's: this tab's id is still its id)
        tab = newId();
        sessionStorage.setItem("news-chat-tab", tab);
        if (copy !== null) Storage.prototype.setItem.call(localStorage, KEY, copy);
      }
    };
    channel.postMessage({asks: tab});
  } catch (e) { /* no BroadcastChannel: a duplicated tab shares its original's conversation */ }
  const { getItem, setItem, removeItem } = Storage.prototype;
  Storage.prototype.getItem = function (key) {
    if (this !== window.localStorage || key !== KEY) return getItem.call(this, key);
    const mine = getItem.call(this, KEY + ":" + tab);
    return mine !== null ? mine : getItem.call(this, KEY);
  };
  Storage.prototype.setItem = function (key, value) {
    if (this !== window.localStorage || key !== KEY) return setItem.call(this, key, value);
    let tabs = [];
    try {
      tabs = JSON.parse(getItem.call(this, TABS)) || [];
    } catch (e) {
      tabs = [];
    }
    tabs = [tab, ...tabs.filter((t) => t !== tab)];
    tabs.slice(KEEP).forEach((t) => removeItem.call(this, KEY + ":" + t));  // room first: storage may be full
    setItem.call(this, TABS, JSON.stringify(tabs.slice(0, KEEP)));
    setItem.call(this, KEY + ":" + tab, value);
    setItem.call(this, KEY, value);  // the latest, for the next new tab
  };
})();
