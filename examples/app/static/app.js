// The example's JS hooks. Registered before fastapi-live.js loads.
window.LiveHooks = window.LiveHooks || {};

// The seed's StateCache: the active tab is cached in a DOM data attribute and pushed back
// after a reconnect, so a restarted server restores it.
window.LiveHooks.StateCache = {
  reconnected() {
    this.pushEvent("restore_tab", {tab: this.el.dataset.activeTab});
  },
};
