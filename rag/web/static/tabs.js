// Each browser tab keeps its own conversation. gr.BrowserState keeps one value in localStorage for the
// whole address, so a question or a Clear in a second tab replaced the first tab's conversation (a tester
// lost one so). Gradio has no per-tab storage: this script, in the page's head, runs before the kept
// conversation is read, and files it under the tab's own id (in sessionStorage: a reload keeps it, another
// tab has its own). A new tab goes on from the conversation written last, as a copy of its own.
(() => {
  const KEY = "news-chat-conversation";  // gr.BrowserState's storage_key (rag/web/app.py)
  const TABS = KEY + ":tabs";  // the tabs' ids, the latest first; the conversations of older ones are dropped
  const KEEP = 10;
  let tab = sessionStorage.getItem("news-chat-tab");
  if (!tab) {
    tab = Date.now().toString(36) + Math.random().toString(36).slice(2);
    sessionStorage.setItem("news-chat-tab", tab);
  }
  const own = KEY + ":" + tab;
  const { getItem, setItem, removeItem } = Storage.prototype;
  Storage.prototype.getItem = function (key) {
    if (this !== window.localStorage || key !== KEY) return getItem.call(this, key);
    const mine = getItem.call(this, own);
    return mine !== null ? mine : getItem.call(this, KEY);
  };
  Storage.prototype.setItem = function (key, value) {
    if (this !== window.localStorage || key !== KEY) return setItem.call(this, key, value);
    setItem.call(this, own, value);
    setItem.call(this, KEY, value);  // the latest, for the next new tab
    let tabs = [];
    try {
      tabs = JSON.parse(getItem.call(this, TABS)) || [];
    } catch (e) {
      tabs = [];
    }
    tabs = [tab, ...tabs.filter((t) => t !== tab)];
    tabs.slice(KEEP).forEach((t) => removeItem.call(this, KEY + ":" + t));
    setItem.call(this, TABS, JSON.stringify(tabs.slice(0, KEEP)));
  };
})();
