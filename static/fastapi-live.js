// fastapi-live client: an htmx 4 extension ("live") plus JS hooks and connection state.
//
// Core hooks used: htmx_config_request (token and event headers), htmx_before_swap
// (drops region updates older than what the DOM shows), htmx_process_live (the
// <hx-live> client operations), htmx_after_swap (runs them after the DOM changed),
// handle_swap (the "liveStream" swap style for stream inserts).
(() => {
    "use strict";

    // ---- constants: every attribute, class and event name the client knows --------------
    const ROOT_SELECTOR = "[data-live-root]";
    const ATTR_TOKEN = "data-live-token";
    const ATTR_VERSION = "data-live-v";
    const ATTR_HOOK = "data-live-hook";
    const ATTR_EVENT_URL = "data-live-event-url";
    const ATTR_AUTO_RECOVER = "data-live-auto-recover";
    const BINDING_BY_DOM_EVENT = {
        click: "data-live-click",
        submit: "data-live-submit",
        input: "data-live-change",
        change: "data-live-change",
        keydown: "data-live-keydown",
        keyup: "data-live-keyup",
        blur: "data-live-blur",
        focus: "data-live-focus",
        focusout: "data-live-blur",
        focusin: "data-live-focus",
    };
    const BINDING_ATTRIBUTES = [...new Set(Object.values(BINDING_BY_DOM_EVENT))];
    const HEADER_TOKEN = "X-Live-Token";
    const HEADER_EVENT = "X-Live-Event";
    const HEADER_REPLY = "X-Live-Reply";
    const CLASS_LOADING = "live-loading";
    const CLASS_CONNECTED = "live-connected";
    const CLASS_DISCONNECTED = "live-disconnected";
    const CLASS_ERROR = "live-error";
    const CLASS_SERVER_ERROR = "live-server-error";
    const CLASS_CLIENT_ERROR = "live-client-error";
    const EVENT_PREFIX = "live:";

    // Diagnostics carry a code and whose fault it is: internal, network or app.
    const DIAGNOSTICS = {
        L001: ["network", "the live stream could not connect; retrying"],
        L002: ["app", "an event was refused by the server"],
        L003: ["app", "the live session is gone; recovering the page"],
        L004: ["app", "unknown JS hook"],
        L005: ["internal", "a JS hook callback threw"],
        L006: ["app", "a partial's target is missing"],
        L007: ["app", "a redirect or navigation to an unsafe URL was refused"],
    };

    const config = {
        disconnectedTimeout: 500,
        firstConnectDelay: 500,
        firstConnectMaxDelay: 10000,
        recoverTimeout: 3000,
        debug: false,
    };
    const currentScript = document.currentScript;
    if (currentScript?.dataset.liveConfig) {
        try {
            Object.assign(config, JSON.parse(currentScript.dataset.liveConfig));
        } catch (e) {
            console.error("fastapi-live: invalid data-live-config", e);
        }
    }

    function diagnose(code, detail) {
        let [fault, message] = DIAGNOSTICS[code];
        let level = fault === "internal" || code === "L002" ? "error" : "warn";
        if (level === "warn" && !config.debug && code === "L006") {
            return;
        }
        console[level](`fastapi-live ${code} (${fault}): ${message}`, detail ?? "");
    }

    const hooks = window.LiveHooks || {};
    window.LiveHooks = hooks;

    // ---- hooks -------------------------------------------------------------------------------
    const mountedHooks = new Map(); // element -> hook instance

    function rootOf(elt) {
        return elt?.closest?.(ROOT_SELECTOR) || document.querySelector(ROOT_SELECTOR);
    }

    function callHook(instance, callback) {
        let fn = instance[callback];
        if (typeof fn !== "function") {
            return;
        }
        try {
            fn.call(instance);
        } catch (e) {
            diagnose("L005", e);
        }
    }

    function createHook(el) {
        let name = el.getAttribute(ATTR_HOOK);
        let definition = hooks[name];
        if (!definition) {
            diagnose("L004", name);
            return null;
        }
        let handlers = [];
        let instance = Object.create(definition);
        instance.el = el;
        instance.__handlers = handlers;
        instance.pushEvent = (event, payload = {}) => pushEvent(el, event, payload);
        instance.handleEvent = (event, callback) => {
            let entry = {event, callback};
            handlers.push(entry);
            return entry;
        };
        instance.removeHandleEvent = (entry) => {
            let index = handlers.indexOf(entry);
            if (index >= 0) {
                handlers.splice(index, 1);
            }
        };
        return instance;
    }

    function scanHooks(root = document) {
        let found = root.querySelectorAll ? [...root.querySelectorAll(`[${ATTR_HOOK}]`)] : [];
        if (root.matches?.(`[${ATTR_HOOK}]`)) {
            found.unshift(root);
        }
        for (let el of found) {
            if (!mountedHooks.has(el)) {
                let instance = createHook(el);
                if (instance) {
                    mountedHooks.set(el, instance);
                    callHook(instance, "mounted");
                }
            }
        }
    }

    function sweepHooks() {
        for (let [el, instance] of mountedHooks) {
            if (!el.isConnected) {
                mountedHooks.delete(el);
                callHook(instance, "destroyed");
            }
        }
    }

    let pendingUpdated = new Set();
    let flushScheduled = false;

    function scheduleHookFlush() {
        if (flushScheduled) {
            return;
        }
        flushScheduled = true;
        queueMicrotask(() => {
            flushScheduled = false;
            sweepHooks();
            scanHooks(document);
            for (let el of pendingUpdated) {
                let instance = mountedHooks.get(el);
                if (instance && el.isConnected) {
                    callHook(instance, "updated");
                }
            }
            pendingUpdated = new Set();
        });
    }

    function observeHooks() {
        let observer = new MutationObserver((records) => {
            for (let record of records) {
                let target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
                // A hook is "updated" when its element or its content changed, not when
                // the element was just added (that is "mounted").
                let hookEl = target?.closest?.(`[${ATTR_HOOK}]`);
                if (hookEl && mountedHooks.has(hookEl)) {
                    pendingUpdated.add(hookEl);
                }
            }
            scheduleHookFlush();
        });
        observer.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
    }

    function forEachHook(callback) {
        for (let instance of mountedHooks.values()) {
            callHook(instance, callback);
        }
    }

    // ---- client operations (<hx-live>) ----------------------------------------------------------
    let pendingOps = [];

    function runClientOps() {
        let ops = pendingOps;
        pendingOps = [];
        for (let op of ops) {
            if (op.kind === "push") {
                dispatchPush(op.name, op.payload);
            } else if (op.kind === "error") {
                showServerError(document.querySelector(ROOT_SELECTOR), op.payload);
            } else if (op.kind === "redirect") {
                // The server only sends local paths and explicit external http(s) URLs; never
                // run a script URL, whatever arrives.
                let url = new URL(op.name, location.href);
                if (url.protocol === "http:" || url.protocol === "https:") {
                    window.location.assign(url.href);
                } else {
                    diagnose("L007", op.name);
                }
            } else if (op.kind === "navigate") {
                if (new URL(op.name, location.href).origin !== location.origin) {
                    diagnose("L007", op.name);
                    continue;
                }
                let replace = op.payload?.replace;
                htmx.ajax("GET", op.name, {target: "body", swap: "outerHTML", select: "body", push: replace ? undefined : op.name, replace: replace ? op.name : undefined});
            }
        }
    }

    // A handler failed on the server: the page says so, and stays live.
    function showServerError(root, detail) {
        if (!root) {
            return;
        }
        root.classList.add(CLASS_ERROR, CLASS_SERVER_ERROR);
        root.dispatchEvent(new CustomEvent(EVENT_PREFIX + "error", {bubbles: true, detail}));
    }

    function clearServerError(root) {
        root?.classList.remove(CLASS_SERVER_ERROR);
        if (root && !root.classList.contains(CLASS_CLIENT_ERROR)) {
            root.classList.remove(CLASS_ERROR);
        }
    }

    function dispatchPush(name, payload) {
        window.dispatchEvent(new CustomEvent(EVENT_PREFIX + name, {detail: payload}));
        for (let instance of mountedHooks.values()) {
            for (let {event, callback} of instance.__handlers) {
                if (event === name) {
                    try {
                        callback.call(instance, payload);
                    } catch (e) {
                        diagnose("L005", e);
                    }
                }
            }
        }
    }

    // ---- events ----------------------------------------------------------------------------------
    function eventNameFor(elt, domEvent) {
        let attribute = BINDING_BY_DOM_EVENT[domEvent?.type];
        if (attribute) {
            let bound = elt.closest?.(`[${attribute}]`);
            if (bound) {
                return bound.getAttribute(attribute);
            }
        }
        // htmx.ajax() or a custom trigger: take the element's only binding, if it has one.
        for (let attr of BINDING_ATTRIBUTES) {
            if (elt.hasAttribute?.(attr)) {
                return elt.getAttribute(attr);
            }
        }
        return null;
    }

    // During a remount, replies are held back until the fresh page has been applied.
    let recovering = null; // {deferred: [], inFlight: Set}

    async function applyResponse(root, text) {
        if (!text) {
            return;
        }
        if (recovering) {
            recovering.deferred.push(text);
            return;
        }
        await htmx.swap({sourceElement: root, target: root, text, swap: "none", transition: false});
    }

    async function postEvent(root, event, body, contentType) {
        let request = (async () => {
            let response = await fetch(root.getAttribute(ATTR_EVENT_URL), {
                method: "POST",
                credentials: "same-origin",
                headers: {
                    "Content-Type": contentType,
                    "HX-Request": "true",
                    [HEADER_TOKEN]: root.getAttribute(ATTR_TOKEN),
                    [HEADER_EVENT]: event,
                },
                body,
            });
            let text = await response.text();
            if (!response.ok) {
                diagnose("L002", text);
                throw new Error(`fastapi-live: event ${event} failed with ${response.status}: ${text}`);
            }
            await applyResponse(root, text);
            let reply = response.headers.get(HEADER_REPLY);
            return reply ? JSON.parse(reply) : {};
        })();
        if (recovering) {
            recovering.inFlight.add(request);
        }
        return request;
    }

    function pushEvent(el, event, payload) {
        let root = rootOf(el);
        if (!root) {
            return Promise.reject(new Error("fastapi-live: pushEvent outside a live page"));
        }
        return postEvent(root, event, JSON.stringify(payload ?? {}), "application/json");
    }

    // The server lost this page's session (restart, expiry) and mounted a fresh one: send
    // what only the DOM still knows — form values, JS hooks' cached state — then apply
    // the fresh render, then the replies to those recovery events.
    async function recover(root, freshHtml) {
        recovering = {deferred: [], inFlight: new Set()};
        try {
            for (let form of root.querySelectorAll("form[id]")) {
                let recoverEvent = form.getAttribute(ATTR_AUTO_RECOVER);
                let changeEvent = form.getAttribute("data-live-change");
                if (recoverEvent === "ignore" || !(recoverEvent || changeEvent)) {
                    continue;
                }
                let body = new URLSearchParams(new FormData(form));
                postEvent(root, recoverEvent || changeEvent, body, "application/x-www-form-urlencoded").catch(() => {});
            }
            forEachHook("reconnected");
            let timeout = new Promise((resolve) => setTimeout(resolve, config.recoverTimeout));
            await Promise.race([Promise.allSettled([...recovering.inFlight]), timeout]);
        } finally {
            let deferred = recovering.deferred;
            recovering = null;
            await htmx.swap({sourceElement: root, target: root, text: freshHtml, swap: "none", transition: false});
            for (let text of deferred) {
                await applyResponse(root, text);
            }
            root.dispatchEvent(new CustomEvent(EVENT_PREFIX + "remounted", {bubbles: true}));
        }
    }

    // ---- connection state --------------------------------------------------------------------------
    const connection = new WeakMap(); // root -> {timer, disconnected, everConnected, attempts}

    function state(root) {
        let value = connection.get(root);
        if (!value) {
            value = {timer: null, disconnected: false, everConnected: false, attempts: 0, retry: null, reconnecting: false};
            connection.set(root, value);
        }
        return value;
    }

    function markDisconnected(root) {
        let s = state(root);
        if (s.disconnected) {
            return;
        }
        s.disconnected = true;
        root.classList.remove(CLASS_CONNECTED);
        forEachHook("disconnected");
        clearTimeout(s.timer);
        // Short blips show nothing: the disconnected UI waits for disconnectedTimeout.
        s.timer = setTimeout(() => {
            if (s.disconnected) {
                root.classList.add(CLASS_DISCONNECTED, CLASS_ERROR, CLASS_CLIENT_ERROR);
            }
        }, config.disconnectedTimeout);
    }

    function markConnected(root) {
        let s = state(root);
        clearTimeout(s.timer);
        clearTimeout(s.retry);
        s.attempts = 0;
        let wasDisconnected = s.disconnected;
        s.disconnected = false;
        root.classList.remove(CLASS_LOADING, CLASS_DISCONNECTED, CLASS_CLIENT_ERROR);
        if (!root.classList.contains(CLASS_SERVER_ERROR)) {
            root.classList.remove(CLASS_ERROR);
        }
        root.classList.add(CLASS_CONNECTED);
        // Hooks hear "reconnected" with the first message, which says whether the
        // session survived (replay) or was remounted (recover first).
        s.reconnecting = s.everConnected && wasDisconnected;
        s.everConnected = true;
    }

    // htmx retries a dropped stream by itself, but never the first connection.
    function retryFirstConnection(root) {
        let s = state(root);
        if (root._htmx?.sse || !root.isConnected) {
            return;
        }
        s.attempts += 1;
        let delay = Math.min(config.firstConnectDelay * 2 ** (s.attempts - 1), config.firstConnectMaxDelay);
        delay = delay * (0.7 + Math.random() * 0.6);
        clearTimeout(s.retry);
        s.retry = setTimeout(() => {
            if (!root._htmx?.sse && root.isConnected) {
                htmx.ajax("GET", root.getAttribute("hx-sse:connect"), {source: root});
            }
        }, delay);
    }

    function isStreamRequest(ctx, root) {
        return ctx?.sourceElement === root && ctx?.request?.method === "GET";
    }

    function onSessionGone(root) {
        diagnose("L003");
        // Reload at most once in a while, so a server that keeps refusing cannot loop us.
        let key = "fastapi-live:reloaded:" + location.pathname;
        let last = Number(sessionStorage.getItem(key) || 0);
        if (Date.now() - last > 10000) {
            sessionStorage.setItem(key, String(Date.now()));
            window.location.reload();
        } else {
            markDisconnected(root);
        }
    }

    document.addEventListener("htmx:sse:after:connection", (evt) => {
        let root = evt.target.closest?.(ROOT_SELECTOR);
        if (root === evt.target) {
            markConnected(root);
        }
    });
    document.addEventListener("htmx:sse:before:message", (evt) => {
        let root = evt.target;
        if (!root.matches?.(ROOT_SELECTOR)) {
            return;
        }
        let s = state(root);
        let message = evt.detail.message;
        if (message.event === "live:remount") {
            s.reconnecting = false;
            evt.detail.waitUntil(recover(root, message.data));
            return;
        }
        if (s.reconnecting) {
            s.reconnecting = false;
            forEachHook("reconnected");
        }
    });
    document.addEventListener("htmx:sse:before:connection", (evt) => {
        let root = evt.target;
        if (root.matches?.(ROOT_SELECTOR) && evt.detail.connection.attempt > 0) {
            markDisconnected(root);
        }
    });
    document.addEventListener("htmx:sse:error", (evt) => {
        let root = evt.target;
        if (!root.matches?.(ROOT_SELECTOR)) {
            return;
        }
        markDisconnected(root);
        if (evt.detail.status === 410 || evt.detail.status === 403) {
            onSessionGone(root);
        }
    });
    document.addEventListener("htmx:sse:close", (evt) => {
        let root = evt.target;
        if (root.matches?.(ROOT_SELECTOR) && root.isConnected) {
            markDisconnected(root);
            retryFirstConnection(root);
        }
    });
    document.addEventListener("htmx:error", (evt) => {
        let ctx = evt.detail.ctx;
        let root = ctx?.sourceElement;
        if (root?.matches?.(ROOT_SELECTOR) && isStreamRequest(ctx, root)) {
            diagnose("L001", evt.detail.error);
            markDisconnected(root);
            retryFirstConnection(root);
        }
    });
    document.addEventListener("htmx:response:error", (evt) => {
        let ctx = evt.detail.ctx;
        let source = ctx?.sourceElement;
        let root = rootOf(source);
        let status = ctx?.response?.status;
        if (root && isStreamRequest(ctx, root)) {
            if (status === 410 || status === 403) {
                // Gone for good, or a token this browser can no longer use (expired, or
                // issued before its browser cookie changed): a fresh page load fixes both.
                onSessionGone(root);
            } else {
                markDisconnected(root);
                retryFirstConnection(root);
            }
            return;
        }
        if (status === 410) {
            // The process that held this page's session is gone: reconnecting the stream
            // remounts it (with form recovery); the event itself is dropped.
            root?._htmx?.sse?.reader?.cancel();
            return;
        }
        let detail = ctx?.text;
        try {
            detail = JSON.parse(detail);
        } catch (e) {
            // not JSON: keep the text
        }
        diagnose("L002", detail);
        if (status >= 500) {
            showServerError(root, {status, message: detail?.detail ?? "Something went wrong on the server."});
        } else {
            source?.dispatchEvent(new CustomEvent(EVENT_PREFIX + "error", {bubbles: true, detail: {status, detail}}));
        }
    });
    document.addEventListener("htmx:after:request", (evt) => {
        let ctx = evt.detail.ctx;
        let root = rootOf(ctx?.sourceElement);
        if (root && ctx.request?.method !== "GET" && ctx.response?.status < 400) {
            clearServerError(root);
        }
    });

    // ---- the extension -------------------------------------------------------------------------------
    function versionOf(el) {
        let value = el?.getAttribute?.(ATTR_VERSION);
        return value == null ? -1 : Number(value);
    }

    function streamInsert(target, fragment, spec) {
        let at = Number(spec.at ?? -1);
        let limit = spec.limit == null ? null : Number(spec.limit);
        let inserted = [];
        for (let child of [...fragment.children]) {
            let existing = child.id ? target.querySelector(`:scope > #${CSS.escape(child.id)}`) : null;
            if (existing) {
                existing.replaceWith(child);
            } else if (spec.updateOnly) {
                continue;
            } else if (at === -1 || at >= target.children.length) {
                target.append(child);
            } else {
                target.insertBefore(child, target.children[Math.max(at, 0)]);
            }
            inserted.push(child);
        }
        if (limit != null) {
            while (target.children.length > Math.abs(limit)) {
                (limit >= 0 ? target.lastElementChild : target.firstElementChild).remove();
            }
        }
        for (let el of inserted) {
            if (el.isConnected) {
                htmx.process(el);
            }
        }
        return inserted;
    }

    htmx.registerExtension("live", {
        htmx_config_request(elt, {ctx}) {
            let root = rootOf(elt);
            if (!root) {
                return;
            }
            let headers = ctx.request.headers;
            headers[HEADER_TOKEN] = root.getAttribute(ATTR_TOKEN);
            if (ctx.request.method === "GET") {
                return;
            }
            let name = eventNameFor(elt, ctx.sourceEvent);
            if (name) {
                headers[HEADER_EVENT] = name;
            }
            let evt = ctx.sourceEvent;
            let body = ctx.request.body;
            // A bound input outside a form still sends its own value, as LiveView does.
            if (body?.set && elt.name && elt.value !== undefined && !elt.form && !body.has(elt.name)) {
                body.set(elt.name, elt.value);
            }
            if ((evt?.type === "keydown" || evt?.type === "keyup") && body?.set) {
                body.set("key", evt.key);
                if (elt.value !== undefined) {
                    body.set("value", elt.value);
                }
            }
            if (evt?.type === "input" && body?.set && evt.target?.name) {
                body.set("_target", evt.target.name);
            }
        },

        htmx_before_swap(elt, {tasks}) {
            // A region fragment older than the region in the DOM is dropped: event
            // replies and stream frames may arrive in either order.
            for (let i = tasks.length - 1; i >= 0; i--) {
                let task = tasks[i];
                let incoming = task.fragment?.firstElementChild;
                if (task.type === "partial" && !task.target && config.debug) {
                    diagnose("L006", task);
                }
                if (task.type !== "partial" || !task.target || !incoming?.hasAttribute?.(ATTR_VERSION)) {
                    continue;
                }
                if (versionOf(incoming) < versionOf(task.target)) {
                    tasks.splice(i, 1);
                }
            }
        },

        htmx_process_live(templateElt) {
            try {
                pendingOps.push(JSON.parse(templateElt.content.textContent));
            } catch (e) {
                diagnose("L005", e);
            }
        },

        htmx_after_swap() {
            if (pendingOps.length) {
                // After the swap's DOM changes, so a push event sees the new DOM.
                queueMicrotask(runClientOps);
            }
        },

        handle_swap(style, target, fragment, spec) {
            if (style !== "liveStream") {
                return false;
            }
            return streamInsert(target, fragment, spec);
        },
    });

    // ---- public API -------------------------------------------------------------------------------
    window.FastapiLive = {
        config,
        hooks,
        configure(options) {
            Object.assign(config, options);
        },
        pushEvent(el, event, payload) {
            return pushEvent(el, event, payload);
        },
    };

    function start() {
        scanHooks(document);
        observeHooks();
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
