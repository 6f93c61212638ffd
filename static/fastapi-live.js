// fastapi-live client: an htmx 4 extension ("live") plus JS hooks and connection state.
//
// Core hooks used: htmx_config_request (token and event headers, a form's untouched fields, the
// submit lock), htmx_before_swap (drops region updates older than what the DOM shows; notes what
// a submit's reply re-renders), htmx_before_morph_node (keeps the submit lock and loading classes
// on re-rendered elements), htmx_before_morph_attr (a field the server no longer counts as
// touched), htmx_process_live (the <hx-live> client operations), htmx_after_swap (runs them after
// the DOM changed), handle_swap (the "liveStream" swap style for stream inserts). Events listened
// to: htmx:before:request and htmx:finally:request (loading classes, the end of the lock).
(() => {
    "use strict";

    // ---- constants: every wire name the client knows (fastapi_live/wire.py CLIENT_CONSTANTS) ----
    const ROOT_SELECTOR = "[data-live-root]";
    const ATTR_TOKEN = "data-live-token";
    const ATTR_VERSION = "data-live-v";
    const ATTR_HOOK = "data-live-hook";
    const ATTR_EVENT_URL = "data-live-event-url";
    const ATTR_AUTO_RECOVER = "data-live-auto-recover";
    const AUTO_RECOVER_IGNORE = "ignore";
    const ATTR_CONFIG = "data-live-config";
    const ATTR_SSE_CONNECT = "hx-sse:connect";
    const ATTR_STREAM = "data-live-stream";
    const ATTR_MORPH_SKIP_CHILDREN = "hx-morph-skip-children";
    const MARKER_ITEMS_START = "live:items";
    const MARKER_ITEMS_END = "/live:items";
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
    const HEADER_TOKEN = "X-Live-Token";
    const HEADER_EVENT = "X-Live-Event";
    const HEADER_REPLY = "X-Live-Reply";
    const HEADER_HX_REQUEST = "HX-Request";
    const PARAM_TARGET = "_target";
    const PARAM_KEY = "key";
    const PARAM_VALUE = "value";
    const PARAM_UNUSED_PREFIX = "_unused_";
    const ATTR_TOUCHED = "data-live-touched";
    const ATTR_DISABLE_WITH = "data-live-disable-with";
    const LOADING_CLASS_BY_DOM_EVENT = {
        click: "live-click-loading",
        submit: "live-submit-loading",
        input: "live-change-loading",
        change: "live-change-loading",
        keydown: "live-keydown-loading",
        keyup: "live-keyup-loading",
        blur: "live-blur-loading",
        focus: "live-focus-loading",
        focusout: "live-blur-loading",
        focusin: "live-focus-loading",
    };
    const CLASS_LOADING = "live-loading";
    const CLASS_CONNECTED = "live-connected";
    const CLASS_DISCONNECTED = "live-disconnected";
    const CLASS_ERROR = "live-error";
    const CLASS_SERVER_ERROR = "live-server-error";
    const CLASS_CLIENT_ERROR = "live-client-error";
    const EVENT_PREFIX = "live:";
    const REMOUNT_EVENT = "live:remount";
    const EVENT_REMOUNTED = "live:remounted";
    const EVENT_ERROR = "live:error";
    const SWAP_NONE = "none";
    const SWAP_STREAM = "liveStream";
    const OP_PUSH = "push";
    const OP_REDIRECT = "redirect";
    const OP_NAVIGATE = "navigate";
    const OP_ERROR = "error";
    const OP_JS = "js";
    const JS_COMMANDS = {
        show: "show",
        hide: "hide",
        toggle: "toggle",
        add_class: "add_class",
        remove_class: "remove_class",
        toggle_class: "toggle_class",
        set_attribute: "set_attribute",
        remove_attribute: "remove_attribute",
        toggle_attribute: "toggle_attribute",
        transition: "transition",
        focus: "focus",
        focus_first: "focus_first",
        dispatch: "dispatch",
        push: "push",
    };
    const ATTR_KEY = "data-live-key";
    const DISPLAY_HIDDEN = "none";
    const DISPLAY_SHOWN = "block";

    // ---- diagnostics: each carries a code and whose fault it is: internal, network or app ---------
    const BINDING_ATTRIBUTES = [...new Set(Object.values(BINDING_BY_DOM_EVENT))];
    const BINDING_CHANGE = BINDING_BY_DOM_EVENT.change;
    const DIAGNOSTICS = {
        L001: ["network", "the live stream could not connect; retrying"],
        L002: ["app", "an event was refused by the server"],
        L003: ["app", "the live session is gone; recovering the page"],
        L004: ["app", "unknown JS hook"],
        L005: ["internal", "a JS hook callback threw"],
        L006: ["app", "a partial's target is missing"],
        L010: ["app", "malformed client-side commands (live.js)"],
        L011: ["app", "unknown client-side command"],
    };

    const config = {
        disconnectedTimeout: 500,
        firstConnectDelay: 500,
        firstConnectMaxDelay: 10000,
        recoverTimeout: 3000,
        debug: false,
    };
    const currentScript = document.currentScript;
    if (currentScript?.hasAttribute(ATTR_CONFIG)) {
        try {
            Object.assign(config, JSON.parse(currentScript.getAttribute(ATTR_CONFIG)));
        } catch (e) {
            console.error(`fastapi-live: invalid ${ATTR_CONFIG}`, e);
        }
    }

    function diagnose(code, detail) {
        let [fault, message] = DIAGNOSTICS[code];
        let severe = fault === "internal" || code === "L002";
        if (!severe && !config.debug && code === "L006") {
            return;
        }
        (severe ? console.error : console.warn)(`fastapi-live ${code} (${fault}): ${message}`, detail ?? "");
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
        instance.execJS = (commands) => execJS(el, commands);
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
            if (op.kind === OP_PUSH) {
                dispatchPush(op.name, op.payload);
            } else if (op.kind === OP_ERROR) {
                showServerError(document.querySelector(ROOT_SELECTOR), op.payload);
            } else if (op.kind === OP_REDIRECT) {
                window.location.assign(op.name);
            } else if (op.kind === OP_JS) {
                execCommands(null, op.payload, null);
            } else if (op.kind === OP_NAVIGATE) {
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
        root.dispatchEvent(new CustomEvent(EVENT_ERROR, {bubbles: true, detail}));
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
                let name = bound.getAttribute(attribute);
                return isChain(name) ? null : name;
            }
        }
        // htmx.ajax() or a custom trigger: take the element's only binding, if it has one.
        for (let attr of BINDING_ATTRIBUTES) {
            if (elt.hasAttribute?.(attr) && !isChain(elt.getAttribute(attr))) {
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
        await htmx.swap({sourceElement: root, target: root, text, swap: SWAP_NONE, transition: false});
    }

    async function postEvent(root, event, body, contentType) {
        let request = (async () => {
            let response = await fetch(root.getAttribute(ATTR_EVENT_URL), {
                method: "POST",
                credentials: "same-origin",
                headers: {
                    "Content-Type": contentType,
                    [HEADER_HX_REQUEST]: "true",
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
                let changeEvent = form.getAttribute(BINDING_CHANGE);
                if (recoverEvent === AUTO_RECOVER_IGNORE || !(recoverEvent || changeEvent)) {
                    continue;
                }
                let data = new FormData(form);
                addUnusedMarkers(form, data);
                let body = new URLSearchParams(data);
                postEvent(root, recoverEvent || changeEvent, body, "application/x-www-form-urlencoded").catch(() => {});
            }
            forEachHook("reconnected");
            let timeout = new Promise((resolve) => setTimeout(resolve, config.recoverTimeout));
            await Promise.race([Promise.allSettled([...recovering.inFlight]), timeout]);
        } finally {
            let deferred = recovering.deferred;
            recovering = null;
            // The fresh render holds each stream's items afresh (LiveView's join): its morph
            // replaces the dead render's items instead of keeping them.
            for (let container of root.querySelectorAll(`[${ATTR_STREAM}][${ATTR_MORPH_SKIP_CHILDREN}]`)) {
                container.removeAttribute(ATTR_MORPH_SKIP_CHILDREN);
            }
            await htmx.swap({sourceElement: root, target: root, text: freshHtml, swap: SWAP_NONE, transition: false});
            for (let text of deferred) {
                await applyResponse(root, text);
            }
            root.dispatchEvent(new CustomEvent(EVENT_REMOUNTED, {bubbles: true}));
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
                htmx.ajax("GET", root.getAttribute(ATTR_SSE_CONNECT), {source: root});
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
        if (message.event === REMOUNT_EVENT) {
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
            source?.dispatchEvent(new CustomEvent(EVENT_ERROR, {bubbles: true, detail: {status, detail}}));
        }
    });
    document.addEventListener("htmx:after:request", (evt) => {
        let ctx = evt.detail.ctx;
        let root = rootOf(ctx?.sourceElement);
        if (root && ctx.request?.method !== "GET" && ctx.response?.status < 400) {
            clearServerError(root);
        }
    });

    // ---- forms: which fields the user has touched (LiveView's used inputs) -------------------------------
    // A control is touched once the user typed into it or submitted its form, or when the server's
    // form says so (the helpers render ATTR_TOUCHED). Every form event tells the server which fields
    // are not touched yet with an _unused_<name> param, so it shows the errors of the others only.
    const touchedByUser = new WeakSet();

    function isTouched(control) {
        return touchedByUser.has(control) || control.hasAttribute(ATTR_TOUCHED);
    }

    function addUnusedMarkers(form, body, submitter) {
        let touched = new Map();
        let hiddenOnly = new Map();
        for (let control of form.elements) {
            let name = control.name;
            if (!name || control.disabled) {
                continue;
            }
            touched.set(name, touched.get(name) === true || isTouched(control));
            hiddenOnly.set(name, hiddenOnly.get(name) !== false && control.type === "hidden");
        }
        for (let [name, used] of touched) {
            if (!used && !hiddenOnly.get(name) && submitter?.name !== name && body.has(name)) {
                body.set(PARAM_UNUSED_PREFIX + name, "");
            }
        }
    }

    function touchForm(form) {
        for (let control of form.elements) {
            if (control.name) {
                touchedByUser.add(control);
            }
        }
    }

    for (let type of ["input", "change"]) {
        document.addEventListener(type, (evt) => {
            let control = evt.target;
            if (control?.form && control.name) {
                touchedByUser.add(control);
            }
        }, true);
    }
    document.addEventListener("submit", (evt) => touchForm(evt.target), true);
    // A reset button forgets what was touched, and tells the server (a change event) so the
    // form it renders forgets it too.
    document.addEventListener("reset", (evt) => {
        let form = evt.target;
        for (let control of form.elements) {
            touchedByUser.delete(control);
            control.removeAttribute?.(ATTR_TOUCHED);
        }
        if (form.hasAttribute(BINDING_CHANGE)) {
            setTimeout(() => form.dispatchEvent(new Event("input", {bubbles: true})));
        }
    });

    // ---- forms: the submit lock (LiveView's phx-submit) -----------------------------------------------
    // From the submit until its reply has been applied, the form's inputs are read-only and its
    // submit buttons disabled, showing their disable-with text; a second submit is dropped. A morph
    // meanwhile keeps the lock (and learns the server's own states to restore). When the reply lands,
    // every control it re-rendered takes the server's value, even the focused one, then the lock lifts.
    const locks = new Map(); // form -> {ctx, controls: Map(control -> readOnly), buttons: Map(button -> {disabled, label}), targets}

    function isSubmitButton(el) {
        return (el.tagName === "BUTTON" || el.tagName === "INPUT") && (el.type === "submit" || el.type === "image");
    }

    function isTextControl(el) {
        return el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && !["checkbox", "radio", "file", "hidden", "submit", "image", "button", "reset"].includes(el.type));
    }

    function lockOf(el) {
        let form = el?.form || el?.closest?.("form");
        return form ? locks.get(form) : undefined;
    }

    function setLabel(button, text) {
        if (button.tagName === "INPUT") {
            button.value = text;
        } else {
            button.textContent = text;
        }
    }

    function labelOf(button) {
        return button.tagName === "INPUT" ? button.value : button.innerHTML;
    }

    function lockControls(form, lock) {
        for (let control of form.elements) {
            if (isSubmitButton(control)) {
                if (!lock.buttons.has(control)) {
                    let text = control.getAttribute(ATTR_DISABLE_WITH) ?? form.getAttribute(ATTR_DISABLE_WITH);
                    lock.buttons.set(control, {disabled: control.disabled, label: text == null ? null : labelOf(control), text});
                    control.disabled = true;
                    if (text != null) {
                        setLabel(control, text);
                    }
                }
            } else if (isTextControl(control) && !lock.controls.has(control)) {
                lock.controls.set(control, control.readOnly);
                control.readOnly = true;
            }
        }
    }

    function lockForm(form, ctx) {
        let lock = {ctx, controls: new Map(), buttons: new Map(), targets: []};
        locks.set(form, lock);
        lockControls(form, lock);
    }

    // The server's value, as its render wrote it into the attributes.
    function applyServerValue(control) {
        if (control.type === "checkbox" || control.type === "radio") {
            control.checked = control.defaultChecked;
        } else if (control.tagName === "SELECT") {
            let options = [...control.options];
            for (let option of options) {
                option.selected = option.defaultSelected;
            }
            if (!control.multiple && !options.some((option) => option.defaultSelected) && options.length) {
                control.selectedIndex = 0;
            }
        } else if (control.tagName === "TEXTAREA" || isTextControl(control)) {
            control.value = control.defaultValue;
        }
    }

    function unlockForm(form, lock) {
        locks.delete(form);
        for (let control of form.elements) {
            if (lock.targets.some((target) => target.contains(control))) {
                applyServerValue(control);
            }
        }
        for (let [control, readOnly] of lock.controls) {
            control.readOnly = readOnly;
        }
        for (let [button, {disabled, label}] of lock.buttons) {
            button.disabled = disabled;
            if (label != null) {
                if (button.tagName === "INPUT") {
                    button.value = label;
                } else {
                    button.innerHTML = label;
                }
            }
        }
    }

    // A morph keeps what the lock changed, and records the server's new states to restore.
    function keepLock(oldNode, newNode) {
        for (let lock of locks.values()) {
            if (lock.controls.has(oldNode)) {
                lock.controls.set(oldNode, newNode.hasAttribute("readonly"));
                newNode.setAttribute("readonly", "");
            }
            let button = lock.buttons.get(oldNode);
            if (button) {
                button.disabled = newNode.hasAttribute("disabled");
                newNode.setAttribute("disabled", "");
                if (button.text != null) {
                    button.label = newNode.tagName === "INPUT" ? newNode.defaultValue : newNode.innerHTML;
                    setLabel(newNode, button.text);
                }
            }
        }
    }

    // A second submit of a locked form is dropped; its checkboxes, radios and selects stay put.
    document.addEventListener("submit", (evt) => {
        if (locks.has(evt.target)) {
            evt.preventDefault();
            evt.stopImmediatePropagation();
        }
    }, true);
    document.addEventListener("click", (evt) => {
        let control = evt.target;
        if ((control?.type === "checkbox" || control?.type === "radio") && lockOf(control)) {
            evt.preventDefault();
        }
    }, true);
    for (let type of ["mousedown", "keydown"]) {
        document.addEventListener(type, (evt) => {
            if (evt.target?.tagName === "SELECT" && lockOf(evt.target) && !(type === "keydown" && evt.key === "Tab")) {
                evt.preventDefault();
            }
        }, true);
    }

    // ---- loading states: live-click-loading and friends, on the element and its form --------------------
    const loading = new Map(); // element -> Map(class -> requests in flight)

    function addLoading(el, cls) {
        let counts = loading.get(el) || new Map();
        loading.set(el, counts);
        counts.set(cls, (counts.get(cls) || 0) + 1);
        el.classList.add(cls);
    }

    function removeLoading(el, cls) {
        let counts = loading.get(el);
        let left = (counts?.get(cls) || 1) - 1;
        if (left > 0) {
            counts.set(cls, left);
            return;
        }
        counts?.delete(cls);
        if (!counts?.size) {
            loading.delete(el);
        }
        el.classList.remove(cls);
    }

    function loadingElements(ctx) {
        let evt = ctx.sourceEvent;
        let source = ctx.sourceElement;
        let el = evt?.type === "submit" ? (evt.submitter || source) : (evt?.type === "input" || evt?.type === "change") ? (evt.target || source) : source;
        let form = el?.form || el?.closest?.("form");
        return [...new Set([el, form, source.matches?.("form") ? source : null].filter(Boolean))];
    }

    function keepLoading(oldNode, newNode) {
        let counts = loading.get(oldNode);
        if (counts) {
            for (let cls of counts.keys()) {
                newNode.classList.add(cls);
            }
        }
    }

    document.addEventListener("htmx:before:request", (evt) => {
        let ctx = evt.detail.ctx;
        let cls = LOADING_CLASS_BY_DOM_EVENT[ctx?.sourceEvent?.type];
        if (!cls || ctx.request?.method === "GET" || !rootOf(ctx.sourceElement)) {
            return;
        }
        ctx.liveLoading = {cls, elements: loadingElements(ctx)};
        for (let el of ctx.liveLoading.elements) {
            addLoading(el, cls);
        }
    });
    document.addEventListener("htmx:finally:request", (evt) => {
        let ctx = evt.detail.ctx;
        if (ctx?.liveLoading) {
            for (let el of ctx.liveLoading.elements) {
                removeLoading(el, ctx.liveLoading.cls);
            }
        }
        for (let [form, lock] of locks) {
            if (lock.ctx === ctx) {
                unlockForm(form, lock);
            }
        }
    });

    // ---- client-side commands (live.js, LiveView's JS) -------------------------------------------------
    // A binding whose value is a JSON list of [command, arguments] runs here, with no request sent
    // (a push command sends its event, through htmx like any binding). What a command changes on an
    // element -- classes, attributes, visibility -- sticks to it: a morph of the element keeps it.
    const sticky = new WeakMap(); // element -> {add: Set, remove: Set, attrs: Map(name -> value | null), display}
    let stickyUsed = false;
    const FOCUSABLE = "a[href], area[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1']), [contenteditable=true]";

    function isChain(value) {
        return typeof value === "string" && value.trimStart().startsWith("[");
    }

    function parseCommands(commands) {
        if (Array.isArray(commands)) {
            return commands;
        }
        try {
            let parsed = JSON.parse(commands);
            if (Array.isArray(parsed)) {
                return parsed;
            }
        } catch (e) {
            // reported below
        }
        diagnose("L010", commands);
        return [];
    }

    function stickyState(el) {
        let state = sticky.get(el);
        if (!state) {
            state = {add: new Set(), remove: new Set(), attrs: new Map(), display: null};
            sticky.set(el, state);
            stickyUsed = true;
        }
        return state;
    }

    function applySticky(el, state) {
        for (let name of state.add) {
            el.classList.add(name);
        }
        for (let name of state.remove) {
            el.classList.remove(name);
        }
        for (let [name, value] of state.attrs) {
            if (value === null) {
                el.removeAttribute(name);
            } else {
                el.setAttribute(name, value);
            }
        }
        if (state.display !== null) {
            el.style.display = state.display;
        }
    }

    function addClasses(el, names) {
        let state = stickyState(el);
        for (let name of names) {
            el.classList.add(name);
            state.add.add(name);
            state.remove.delete(name);
        }
    }

    function removeClasses(el, names) {
        let state = stickyState(el);
        for (let name of names) {
            el.classList.remove(name);
            state.remove.add(name);
            state.add.delete(name);
        }
    }

    function setAttr(el, name, value) {
        if (value === null) {
            el.removeAttribute(name);
        } else {
            el.setAttribute(name, value);
        }
        stickyState(el).attrs.set(name, value);
    }

    function setDisplay(el, display) {
        el.style.display = display;
        stickyState(el).display = display;
    }

    function isVisible(el) {
        return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length > 0);
    }

    function splitClasses(value) {
        return (value || "").split(/\s+/).filter(Boolean);
    }

    // A transition: its classes for `time` ms, or LiveView's three sets (running, start, end).
    function runTransition(el, spec, time, done) {
        if (!spec) {
            done?.();
            return;
        }
        let [running, start, end] = Array.isArray(spec) ? spec.map(splitClasses) : [splitClasses(spec), [], []];
        el.classList.add(...running, ...start);
        requestAnimationFrame(() => requestAnimationFrame(() => {
            el.classList.remove(...start);
            el.classList.add(...end);
        }));
        setTimeout(() => {
            el.classList.remove(...running, ...end);
            done?.();
        }, time ?? 200);
    }

    function show(el, args) {
        if (!isVisible(el)) {
            setDisplay(el, args.display || DISPLAY_SHOWN);
            runTransition(el, args.transition, args.time);
        }
    }

    function hide(el, args) {
        if (isVisible(el)) {
            runTransition(el, args.transition, args.time, () => setDisplay(el, DISPLAY_HIDDEN));
        }
    }

    const COMMANDS = {
        [JS_COMMANDS.show]: show,
        [JS_COMMANDS.hide]: hide,
        [JS_COMMANDS.toggle]: (el, args) => {
            if (isVisible(el)) {
                hide(el, {transition: args.transition_out, time: args.time});
            } else {
                show(el, {transition: args.transition_in, time: args.time, display: args.display});
            }
        },
        [JS_COMMANDS.add_class]: (el, args) => {
            addClasses(el, args.names);
            runTransition(el, args.transition, args.time);
        },
        [JS_COMMANDS.remove_class]: (el, args) => {
            removeClasses(el, args.names);
            runTransition(el, args.transition, args.time);
        },
        [JS_COMMANDS.toggle_class]: (el, args) => {
            for (let name of args.names) {
                if (el.classList.contains(name)) {
                    removeClasses(el, [name]);
                } else {
                    addClasses(el, [name]);
                }
            }
            runTransition(el, args.transition, args.time);
        },
        [JS_COMMANDS.set_attribute]: (el, args) => setAttr(el, args.name, args.value),
        [JS_COMMANDS.remove_attribute]: (el, args) => setAttr(el, args.name, null),
        [JS_COMMANDS.toggle_attribute]: (el, args) => {
            let value = args.value ?? "";
            if (args.alt == null) {
                setAttr(el, args.name, el.hasAttribute(args.name) ? null : value);
            } else {
                setAttr(el, args.name, el.getAttribute(args.name) === value ? args.alt : value);
            }
        },
        [JS_COMMANDS.transition]: (el, args) => runTransition(el, args.transition, args.time),
        [JS_COMMANDS.focus]: (el) => el.focus(),
        [JS_COMMANDS.focus_first]: (el) => el.querySelector(FOCUSABLE)?.focus(),
        [JS_COMMANDS.dispatch]: (el, args) => el.dispatchEvent(new CustomEvent(args.event, {bubbles: args.bubbles !== false, detail: args.detail})),
    };

    function targetsOf(source, to) {
        if (to == null) {
            return source ? [source] : [];
        }
        return source ? htmx.findAll(source, to) : [...document.querySelectorAll(to)];
    }

    // A push sends its event through htmx, as a binding does: the element's form and hx-vals, the
    // page token, loading classes, and for a submit the form's lock.
    function pushCommand(source, args, domEvent) {
        let el = source?.isConnected ? source : document.querySelector(ROOT_SELECTOR);
        let root = rootOf(el);
        if (!root) {
            return;
        }
        htmx.ajax("POST", root.getAttribute(ATTR_EVENT_URL), {source: el, event: domEvent || undefined, values: args.value, swap: SWAP_NONE, livePush: args.event});
    }

    function execCommands(source, commands, domEvent) {
        for (let [name, args = {}] of parseCommands(commands)) {
            if (name === JS_COMMANDS.push) {
                pushCommand(source, args, domEvent);
                continue;
            }
            let run = COMMANDS[name];
            if (!run) {
                diagnose("L011", name);
                continue;
            }
            for (let el of targetsOf(source, args.to)) {
                run(el, args, domEvent);
            }
        }
    }

    function execJS(el, commands) {
        execCommands(el, commands, null);
    }

    // The DOM events chains listen to (an input's change is its "input" event, as live.change's).
    const CHAIN_EVENTS = {click: true, submit: true, input: true, keydown: true, keyup: true, focusout: false, focusin: false}; // bubbles to the binding?

    for (let [type, bubbles] of Object.entries(CHAIN_EVENTS)) {
        let attribute = BINDING_BY_DOM_EVENT[type];
        document.addEventListener(type, (evt) => {
            let target = evt.target;
            let el = bubbles ? target?.closest?.(`[${attribute}]`) : target;
            let commands = el?.getAttribute?.(attribute);
            if (!isChain(commands) || !rootOf(el)) {
                return;
            }
            let key = el.getAttribute(ATTR_KEY);
            if (key != null && evt.key !== key) {
                return;
            }
            if (type === "submit" || (type === "click" && isSubmitButton(el))) {
                evt.preventDefault();
            }
            execCommands(el, commands, evt);
        });
    }

    // ---- the extension -------------------------------------------------------------------------------
    function versionOf(el) {
        let value = el?.getAttribute?.(ATTR_VERSION);
        return value == null ? -1 : Number(value);
    }

    // A stream container holds its items as its element children or, when its template gives
    // it static children too (a header, an empty state), between two marker comments.
    function streamBounds(target) {
        let start = null;
        for (let node of target.childNodes) {
            if (node.nodeType === Node.COMMENT_NODE) {
                if (node.data === MARKER_ITEMS_START) {
                    start = node;
                } else if (start && node.data === MARKER_ITEMS_END) {
                    return {start, end: node};
                }
            }
        }
        return {start: null, end: null};
    }

    function streamItems(target, bounds) {
        if (!bounds.start) {
            return [...target.children];
        }
        let items = [];
        for (let node = bounds.start.nextSibling; node && node !== bounds.end; node = node.nextSibling) {
            if (node.nodeType === Node.ELEMENT_NODE) {
                items.push(node);
            }
        }
        return items;
    }

    // LiveView's rules (and streams.initial_items'): an item already shown is replaced where it
    // stands and trims nothing; a new one goes to index `at` (-1, or past the end: last), then
    // `limit` trims the items: a positive one keeps the first, a negative one the last.
    function streamInsert(target, fragment, spec) {
        let at = Number(spec.at ?? -1);
        let limit = spec.limit == null ? null : Number(spec.limit);
        let inserted = [];
        for (let child of [...fragment.children]) {
            let bounds = streamBounds(target);
            let items = streamItems(target, bounds);
            let existing = child.id ? items.find((item) => item.id === child.id) : null;
            if (existing) {
                existing.replaceWith(child);
                inserted.push(child);
                continue;
            }
            if (spec.updateOnly) {
                continue;
            }
            target.insertBefore(child, at >= 0 && at < items.length ? items[at] : bounds.end);
            inserted.push(child);
            if (limit != null && !Number.isNaN(limit)) {
                items = streamItems(target, bounds);
                let excess = limit >= 0 ? items.slice(limit) : items.slice(0, Math.max(items.length + limit, 0));
                for (let el of excess) {
                    el.remove();
                }
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
            let name = ctx.livePush ?? eventNameFor(elt, ctx.sourceEvent);
            if (name) {
                headers[HEADER_EVENT] = name;
            }
            let evt = ctx.sourceEvent;
            if (evt?.type === "submit" && ctx.request.form) {
                if (locks.has(ctx.request.form)) {
                    return false; // already in flight: a double click submits once
                }
                lockForm(ctx.request.form, ctx);
            }
            let body = ctx.request.body;
            // A bound input outside a form still sends its own value, as LiveView does.
            if (body?.set && elt.name && elt.value !== undefined && !elt.form && !body.has(elt.name)) {
                body.set(elt.name, elt.value);
            }
            if ((evt?.type === "keydown" || evt?.type === "keyup") && body?.set) {
                body.set(PARAM_KEY, evt.key);
                if (elt.value !== undefined) {
                    body.set(PARAM_VALUE, elt.value);
                }
            }
            if (evt?.type === "input" && body?.set && evt.target?.name) {
                body.set(PARAM_TARGET, evt.target.name);
            }
            if (ctx.request.form && body?.set) {
                addUnusedMarkers(ctx.request.form, body, ctx.request.submitter);
            }
        },

        htmx_before_morph_attr(elt, {attrName, newValue}) {
            // The server's form no longer counts the field as touched (it was rebuilt fresh): forget it.
            if (attrName === ATTR_TOUCHED && newValue === null) {
                touchedByUser.delete(elt);
            }
        },

        htmx_before_morph_node(oldNode, {newNode}) {
            if (oldNode.nodeType !== Node.ELEMENT_NODE || newNode.nodeType !== Node.ELEMENT_NODE) {
                return;
            }
            if (locks.size) {
                keepLock(oldNode, newNode);
            }
            if (loading.size) {
                keepLoading(oldNode, newNode);
            }
            let state = stickyUsed ? sticky.get(oldNode) : undefined;
            if (state) {
                applySticky(newNode, state);
            }
        },

        htmx_before_swap(elt, {ctx, tasks}) {
            for (let lock of locks.values()) {
                if (lock.ctx === ctx) {
                    // The submit's reply: what it re-renders takes the server's values once applied.
                    lock.targets = tasks.filter((task) => task.target).map((task) => task.target);
                }
            }
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
            for (let [form, lock] of locks) {
                lockControls(form, lock); // controls a swap added while the submit is in flight
            }
            if (pendingOps.length) {
                // After the swap's DOM changes, so a push event sees the new DOM.
                queueMicrotask(runClientOps);
            }
        },

        handle_swap(style, target, fragment, spec) {
            if (style !== SWAP_STREAM) {
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
        execJS(el, commands) {
            execJS(el, commands);
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
