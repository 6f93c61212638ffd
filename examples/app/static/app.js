// The example's JS hooks. Registered before fastapi-live.js loads.
window.LiveHooks = window.LiveHooks || {};

// The seed's StateCache: the active tab is cached in a DOM data attribute and pushed back
// after a reconnect, so a restarted server restores it.
window.LiveHooks.StateCache = {
  reconnected() {
    this.pushEvent("restore_tab", {tab: this.el.dataset.activeTab});
  },
};

// The team board's inline edit: the title input takes the focus when it appears, text selected.
window.LiveHooks.FocusOnMount = {
  mounted() {
    this.el.focus();
    this.el.select();
  },
};
