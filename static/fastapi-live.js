// fastapi-live client: an htmx 4 extension ("live") plus JS hooks and connection state.
//
// Core hooks used: htmx_config_request (token and event headers, a form's untouched fields, the
// submit lock), htmx_before_swap (drops region updates older than what the DOM shows; notes what
// a submit's reply re-renders), htmx_before_morph_node (keeps the submit lock, loading classes
// and live.js's sticky changes on re-rendered elements), htmx_before_morph_attr (a field the
// server no longer counts as touched), htmx_process_live (the <hx-live> client operations),
// htmx_after_swap (runs them after the DOM changed), handle_swap (the "liveStream" swap style for
// stream inserts, "liveText" for text patches). Core events used: htmx:before:history:restore (Back and Forward over the
// entries live navigation made), htmx:before:request and htmx:finally:request (loading classes,
// the end of the submit lock).
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
    const SWAP_TEXT = "liveText";
    const REFRESH_EVENT = "live:refresh";
    const REFRESH_TEXT = "text";
    const REFRESH_VERSION = "version";
    const OP_PUSH = "push";
    const OP_REDIRECT = "redirect";
    const OP_NAVIGATE = "navigate";
    const OP_ERROR = "error";
    const HEADER_UPLOAD_TOKEN = "X-Live-Upload-Token";
    const HEADER_UPLOAD_REF = "X-Live-Upload-Ref";
    const HEADER_UPLOAD_OFFSET = "X-Live-Upload-Offset";
    const ATTR_UPLOAD = "data-live-upload";
    const ATTR_UPLOAD_CONFIG = "data-live-upload-config";
    const ATTR_UPLOAD_URL = "data-live-upload-url";
    const ATTR_DROP_TARGET = "data-live-drop-target";
    const ATTR_UPLOAD_PREVIEW = "data-live-upload-preview";
    const CLASS_DROP_ACTIVE = "live-drop-active";
    const CLASS_UPLOADING = "live-uploading";
    const UPLOAD_EVENT = "live:upload";
    const UPLOAD_PROGRESS_EVENT = "live:upload-progress";
    const OP_PATCH = "patch";
    const ATTR_LINK = "data-live-link";
    const ATTR_LINK_STATE = "data-live-link-state";
    const ATTR_CLEAR_AFTER = "data-live-clear-after";
    const LINK_PATCH = "patch";
    const LINK_NAVIGATE = "navigate";
    const LINK_STATE_PUSH = "push";
    const LINK_STATE_REPLACE = "replace";
    const PATCH_EVENT = "live:patch";
    const HEADER_NAVIGATE = "X-Live-Navigate";
    const HEADER_CURRENT_URL = "HX-Current-URL";
    const FLASH_COOKIE = "fastapi_live_flash";
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
    const ATTR_COMPONENT = "data-live-component";
    const ATTR_TARGET = "data-live-target";
    const PARAM_COMPONENT = "_live_component";
    const HEADER_MUX = "X-Live-Mux";
    const MUX_OPEN = "open";
    const HEADER_MUX_PAGE = "X-Live-Mux-Page";
    const HEADER_MUX_DETACH = "X-Live-Mux-Detach";
    const MUX_OPEN_EVENT = "live:mux-open";
    const MUX_FRAME_EVENT = "live:mux-frame";
    const MUX_END_EVENT = "live:mux-end";

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
        L007: ["app", "a live navigation led to a page that cannot replace this one; loading it in full"],
        L008: ["app", "an upload was refused by the server"],
        L009: ["network", "an upload chunk did not get through; retrying"],
        L010: ["app", "malformed client-side commands (live.js)"],
        L011: ["app", "unknown client-side command"],
        L012: ["app", "a redirect or navigation to an unsafe URL was refused"],
        L013: ["app", "an event's target matches no element; the event was not sent"],
        L014: ["app", "pushEventTo: the target matches no element"],
        L016: ["network", "the live stream did not open in time. Over HTTP/1.1 a browser opens at most six connections per host, and other tabs of this site may hold them all: serve the app over HTTP/2 (e.g. behind a proxy) or keep multiplexing on (client_config multiplex: \"auto\")"],
        L017: ["network", "the shared live stream did not open in time: check that the server runs and that no proxy buffers text/event-stream responses"],
        L018: ["app", "invalid multiplex setting; expected one of: auto, worker, broadcast, off"],
        L019: ["internal", "the shared live stream's worker failed; this page uses a stream of its own"],
        L030: ["app", "a region's text is not what the server last sent (a script changed it): the region is fetched whole, and from now on always sent whole"],
        L031: ["network", "a text patch came for another version of its region than the page shows (frames crossed): the region is fetched whole"],
    };

    // ---- the shared stream: one per browser for every live page (the hub) ------------------------------
    // Over HTTP/1.1 a browser opens at most six connections per host, and each live page would
    // hold one. The hub holds one stream per stream URL for every page of the browser and
    // routes each page's frames to it by channel; it runs in a SharedWorker (this same file)
    // or, where there is none, in one leader tab elected with the Web Locks API. A page talks
    // to it in messages: {op: "attach" | "detach"} in, {op: "attached" | "frame" | "end" |
    // "leader"} out. The page's own stream (htmx's hx-sse) reads what the hub routes to it as
    // if it came from a stream of its own: replay, resync and reconnects stay the page's.
    const HUB_LINGER = 5000; // ms a shared stream with no page left stays open (a navigation re-attaches)
    const DOC_LOCK = "fastapi-live:page:"; // held by each page while it lives; the hub's request waits for its end
    const HUB_NAME = "fastapi-live-hub/1"; // the SharedWorker's name: the version of the messages below

    function createHub() {
        const streams = new Map(); // stream URL -> {id, ready, abort, channels: Map(channel -> {deliver, doc}), linger}
        const watchedDocs = new Set();

        function openStream(url) {
            // pending: channels whose attach is in flight; cancelled: those of them detached meanwhile.
            let stream = {id: null, abort: new AbortController(), channels: new Map(), linger: null, pending: new Set(), cancelled: new Set()};
            stream.ready = new Promise((resolve, reject) => {
                stream.opened = resolve;
                stream.failed = reject;
            });
            stream.ready.catch(() => {});
            streams.set(url, stream);
            readStream(url, stream);
            return stream;
        }

        async function readStream(url, stream) {
            try {
                let response = await fetch(url, {
                    credentials: "same-origin",
                    headers: {[HEADER_MUX]: MUX_OPEN, Accept: "text/event-stream"},
                    signal: stream.abort.signal,
                });
                if (!response.ok) {
                    let error = new Error(await response.text());
                    error.status = response.status;
                    throw error;
                }
                for await (let message of sseMessages(response.body)) {
                    if (message.event === MUX_OPEN_EVENT) {
                        stream.id = message.data;
                        stream.opened(stream.id);
                    } else if (message.event === MUX_FRAME_EVENT) {
                        let cut = message.data.indexOf("\n");
                        let channel = message.data.slice(0, cut);
                        stream.channels.get(channel)?.deliver({op: "frame", channel, text: message.data.slice(cut + 1) + "\n\n"});
                    } else if (message.event === MUX_END_EVENT) {
                        let entry = stream.channels.get(message.data);
                        stream.channels.delete(message.data);
                        entry?.deliver({op: "end", channel: message.data});
                    }
                }
            } catch (e) {
                stream.failed(e);
            } finally {
                stream.failed(new Error("the shared live stream ended"));
                if (streams.get(url) === stream) {
                    streams.delete(url);
                }
                for (let [channel, entry] of stream.channels) {
                    entry.deliver({op: "end", channel});
                }
                stream.channels.clear();
            }
        }

        async function attach(message, deliver, retried = false) {
            let {url, channel, headers, doc} = message;
            let stream = streams.get(url) || openStream(url);
            clearTimeout(stream.linger);
            let id;
            try {
                id = await stream.ready;
            } catch (e) {
                deliver({op: "attached", channel, status: e.status || 0, text: e.message});
                return;
            }
            watchDoc(doc);
            stream.channels.set(channel, {deliver, doc}); // frames may come before the answer does
            stream.pending.add(channel);
            let response;
            let text = "";
            try {
                response = await fetch(url, {method: "POST", credentials: "same-origin", headers: {...headers, [HEADER_MUX]: id, [HEADER_MUX_PAGE]: channel}});
                text = response.ok ? "" : await response.text();
            } catch (e) {
                stream.channels.delete(channel);
                deliver({op: "attached", channel, status: 0, text: String(e)});
                return;
            } finally {
                stream.pending.delete(channel);
            }
            if (stream.cancelled.delete(channel)) {
                // The page left while its attach was in flight: the server attached it after the
                // detach went, so it is detached again now.
                if (response.ok) {
                    sendDetach(url, stream, [channel]);
                }
                return;
            }
            if (!response.ok) {
                stream.channels.delete(channel);
                if (response.status === 404) {
                    // The server no longer holds this shared stream: open another, once.
                    stream.abort.abort();
                    if (streams.get(url) === stream) {
                        streams.delete(url);
                    }
                    if (!retried) {
                        return attach(message, deliver, true);
                    }
                }
            }
            deliver({op: "attached", channel, status: response.ok ? 200 : response.status, text});
        }

        function detach(url, channels) {
            let stream = streams.get(url);
            if (!stream) {
                return;
            }
            for (let channel of channels) {
                if (stream.pending.has(channel)) {
                    stream.cancelled.add(channel);
                }
            }
            let known = channels.filter((channel) => stream.channels.delete(channel));
            sendDetach(url, stream, known);
            if (!stream.channels.size) {
                clearTimeout(stream.linger);
                stream.linger = setTimeout(() => {
                    if (!stream.channels.size) {
                        stream.abort.abort();
                    }
                }, HUB_LINGER);
            }
        }

        function sendDetach(url, stream, channels) {
            if (channels.length && stream.id) {
                let headers = {[HEADER_MUX]: stream.id, [HEADER_MUX_DETACH]: channels.join(",")};
                fetch(url, {method: "POST", credentials: "same-origin", keepalive: true, headers}).catch(() => {});
            }
        }

        // A page that closes without a word (its tab killed) still detaches: its lock frees.
        function watchDoc(doc) {
            if (!doc || watchedDocs.has(doc) || !navigator.locks) {
                return;
            }
            watchedDocs.add(doc);
            navigator.locks.request(DOC_LOCK + doc, () => {
                watchedDocs.delete(doc);
                for (let [url, stream] of streams) {
                    detach(url, [...stream.channels].filter(([, entry]) => entry.doc === doc).map(([channel]) => channel));
                }
            });
        }

        return {
            receive(message, deliver) {
                if (message?.op === "attach") {
                    attach(message, deliver);
                } else if (message?.op === "detach") {
                    detach(message.url, message.channels);
                }
            },
        };
    }

    // SSE messages from a byte stream (the shared stream's own framing; pages' frames inside
    // it are parsed again by hx-sse).
    async function* sseMessages(body) {
        let reader = body.getReader();
        let decoder = new TextDecoder();
        let buffer = "";
        let message = {event: "", data: [], hasData: false};
        try {
            for (;;) {
                let {done, value} = await reader.read();
                if (done) {
                    return;
                }
                buffer += decoder.decode(value, {stream: true});
                let lines = buffer.split(/\r\n|\r|\n/);
                buffer = lines.pop();
                for (let line of lines) {
                    if (!line) {
                        if (message.hasData) {
                            yield {event: message.event, data: message.data.join("\n")};
                        }
                        message = {event: "", data: [], hasData: false};
                        continue;
                    }
                    if (line[0] === ":") {
                        continue;
                    }
                    let colon = line.indexOf(":");
                    let field = colon < 0 ? line : line.slice(0, colon);
                    let value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
                    if (field === "data") {
                        message.data.push(value);
                        message.hasData = true;
                    } else if (field === "event") {
                        message.event = value;
                    }
                }
            }
        } finally {
            reader.releaseLock();
        }
    }

    // This file, run as the SharedWorker: the hub, and nothing of the page.
    if (typeof SharedWorkerGlobalScope !== "undefined" && self instanceof SharedWorkerGlobalScope) {
        let hub = createHub();
        self.addEventListener("connect", (evt) => {
            let port = evt.ports[0];
            port.onmessage = (e) => hub.receive(e.data, (message) => port.postMessage(message));
            port.start();
        });
        return;
    }

    const config = {
        disconnectedTimeout: 500,
        firstConnectDelay: 500,
        firstConnectMaxDelay: 10000,
        recoverTimeout: 3000,
        uploadRetries: 6,
        uploadRetryDelay: 250,
        uploadProgressInterval: 100,
        debug: false,
        multiplex: "auto", // auto | worker | broadcast | off: one stream for every page of the browser
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
        if (!severe && !config.debug && (code === "L006" || code === "L031")) {
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
        instance.pushEventTo = (target, event, payload = {}) => pushEventTo(target, event, payload);
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
                redirectTo(op.name, op.payload);
            } else if (op.kind === OP_JS) {
                execCommands(null, op.payload, null);
            } else if (op.kind === OP_NAVIGATE) {
                if (new URL(op.name, location.href).origin !== location.origin) {
                    diagnose("L012", op.name); // the server sends only local paths to navigate to
                    continue;
                }
                navigateTo(op.name, {history: op.payload?.replace ? LINK_STATE_REPLACE : LINK_STATE_PUSH, flash: op.payload?.flash});
            } else if (op.kind === OP_PATCH) {
                let root = document.querySelector(ROOT_SELECTOR);
                if (root) {
                    updateHistory(root, op.name, op.payload?.replace ? LINK_STATE_REPLACE : LINK_STATE_PUSH);
                    scrollToHash(new URL(op.name, location.href));
                }
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

    function sendEvent(root, event, body, contentType) {
        return fetch(root.getAttribute(ATTR_EVENT_URL), {
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
    }

    async function postEvent(root, event, body, contentType) {
        let request = (async () => {
            let response = await sendEvent(root, event, body, contentType);
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
        let body = {...(payload ?? {})};
        let component = componentOf(el);
        if (component === undefined) {
            return Promise.reject(new Error(`fastapi-live: the target of ${event} matches no element`));
        }
        if (component) {
            body[PARAM_COMPONENT] = component;
        }
        return postEvent(root, event, JSON.stringify(body), "application/json");
    }

    // A hook's pushEventTo(selector, ...): the event goes to the component holding the match (or
    // to the page's view when none does), as LiveView's.
    function pushEventTo(target, event, payload) {
        let el = typeof target === "string" ? document.querySelector(target) : target;
        if (!el) {
            diagnose("L014", target);
            return Promise.reject(new Error(`fastapi-live: pushEventTo: ${target} matches no element`));
        }
        let root = rootOf(el);
        if (!root) {
            return Promise.reject(new Error("fastapi-live: pushEventTo outside a live page"));
        }
        let body = {...(payload ?? {})};
        let component = el.closest(`[${ATTR_COMPONENT}]`)?.getAttribute(ATTR_COMPONENT);
        if (component) {
            body[PARAM_COMPONENT] = component;
        }
        return postEvent(root, event, JSON.stringify(body), "application/json");
    }

    // ---- components --------------------------------------------------------------------------------
    // The component an event from el is for: the one named by the nearest target= (a selector),
    // else the component el sits in; null for the page's view; undefined when target= matches nothing.
    function componentOf(el) {
        let targeted = el?.closest?.(`[${ATTR_TARGET}]`);
        let holder = el;
        if (targeted) {
            let selector = targeted.getAttribute(ATTR_TARGET);
            holder = document.querySelector(selector);
            if (!holder) {
                diagnose("L013", selector);
                return undefined;
            }
        }
        return holder?.closest?.(`[${ATTR_COMPONENT}]`)?.getAttribute(ATTR_COMPONENT) ?? null;
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

    // ---- live navigation: patch and navigate links, history -----------------------------------------
    // A patch changes this page's URL (handle_params runs on the server, only changed regions
    // come back); a navigation mounts another live page and swaps it in without a document load.
    // Each history entry they make says which page made it, so Back and Forward patch the page
    // that is still here, and navigate to one that is not.
    const pageIds = new WeakMap(); // root -> the id its history entries carry
    const streamHeaders = new WeakMap(); // root -> the headers object its stream's reconnects resend
    let navigationCount = 0; // the newest navigation wins over one still in flight
    let patchCount = 0; // ... and the newest patch over an older one
    const leaving = new WeakSet(); // roots a navigation is replacing: their stream's end is no disconnect
    // Each entry's scroll position as last seen: history.state is written at most every 100 ms
    // (browsers limit replaceState), so Back right after a scroll still finds where it was.
    const scrolls = new Map(); // entry key -> scroll position
    let currentKey = null;
    let restoring = false; // Back/Forward under way: scroll events belong to no entry until it is restored
    const HISTORY_KEEP = "keep"; // Back/Forward: the browser already moved to the entry

    function pageId(root) {
        let id = pageIds.get(root);
        if (!id) {
            id = Math.random().toString(36).slice(2) + Date.now().toString(36);
            pageIds.set(root, id);
        }
        return id;
    }

    function entryState(root, scroll) {
        currentKey = Math.random().toString(36).slice(2);
        scrolls.set(currentKey, scroll);
        // htmx: true keeps htmx from replacing this state, and has it tell us about Back/Forward.
        return {...(history.state || {}), htmx: true, live: {page: pageId(root), key: currentKey, scroll}};
    }

    function tagEntry(root, scroll = window.scrollY) {
        history.replaceState(entryState(root, scroll), "");
        keepCurrentUrl(root);
    }

    function saveScroll() {
        let live = history.state?.live;
        if (live) {
            scrolls.set(live.key, window.scrollY);
            if (live.scroll !== window.scrollY) {
                history.replaceState({...history.state, live: {...live, scroll: window.scrollY}}, "");
            }
        }
    }

    // htmx reconnects a stream with the headers of its first request: the copy it keeps learns
    // the patched URL, so a remount after a restart mounts the page the browser shows.
    function keepCurrentUrl(root) {
        let headers = streamHeaders.get(root);
        if (headers) {
            headers[HEADER_CURRENT_URL] = location.href;
        }
    }

    function updateHistory(root, url, mode) {
        if (mode === LINK_STATE_PUSH) {
            saveScroll();
            history.pushState(entryState(root, window.scrollY), "", url);
        } else if (mode === LINK_STATE_REPLACE) {
            history.replaceState(entryState(root, window.scrollY), "", url);
        }
        keepCurrentUrl(root);
    }

    function scrollToHash(url) {
        let target = url.hash ? document.getElementById(decodeURIComponent(url.hash.slice(1))) : null;
        target?.scrollIntoView();
    }

    function setFlashCookie(flash) {
        if (flash) {
            document.cookie = `${FLASH_COOKIE}=${flash}; path=/; max-age=60; samesite=lax`;
        }
    }

    function redirectTo(url, payload) {
        // The server sends only local paths and explicit external http(s) URLs; never run a
        // script URL, whatever arrives.
        let protocol = new URL(url, location.href).protocol;
        if (protocol !== "http:" && protocol !== "https:") {
            diagnose("L012", url);
            return;
        }
        setFlashCookie(payload?.flash);
        if (payload?.replace) {
            window.location.replace(url);
        } else {
            window.location.assign(url);
        }
    }

    async function patchTo(root, href, mode, scroll) {
        if (leaving.has(root)) {
            return; // the page is being left: its session is ending
        }
        let url = new URL(href, location.href);
        let count = ++patchCount;
        let response;
        let text;
        try {
            response = await sendEvent(root, PATCH_EVENT, JSON.stringify({url: url.pathname + url.search}), "application/json");
            text = await response.text();
        } catch (e) {
            diagnose("L001", e);
            return;
        }
        if (!response.ok) {
            if (response.status === 410) {
                window.location.assign(url.href); // the session is gone: load the page in full
                return;
            }
            let detail = text;
            try {
                detail = JSON.parse(text);
            } catch (e) {
                // not JSON: keep the text
            }
            diagnose("L002", detail);
            root.dispatchEvent(new CustomEvent(EVENT_ERROR, {bubbles: true, detail: {status: response.status, detail}}));
            return;
        }
        if (count === patchCount) {
            updateHistory(root, url.pathname + url.search + url.hash, mode);
        }
        await applyResponse(root, text);
        if (count === patchCount) {
            if (scroll != null) {
                window.scrollTo(0, scroll);
            } else {
                scrollToHash(url);
            }
        }
    }

    function assetsOf(doc, base) {
        let found = new Set();
        for (let el of doc.head?.querySelectorAll("script[src], link[rel~='stylesheet'][href]") ?? []) {
            found.add(new URL(el.getAttribute("src") ?? el.getAttribute("href"), base).href);
        }
        return found;
    }

    // Another live page of this router, with this page's scripts and stylesheets, replaces
    // this one: its stream takes over (htmx closes this root's), and the page it leaves ends.
    function replaceable(doc, root, base) {
        let fresh = doc.querySelector(ROOT_SELECTOR);
        if (!fresh || fresh.getAttribute(ATTR_SSE_CONNECT) !== root.getAttribute(ATTR_SSE_CONNECT)) {
            return false;
        }
        let loaded = assetsOf(document, location.href);
        return [...assetsOf(doc, base)].every((asset) => loaded.has(asset));
    }

    async function navigateTo(href, {history: mode = LINK_STATE_PUSH, flash, scroll} = {}) {
        let url = new URL(href, location.href);
        let root = document.querySelector(ROOT_SELECTOR);
        if (url.origin !== location.origin || !root) {
            redirectTo(url.href, {flash, replace: mode !== LINK_STATE_PUSH});
            return;
        }
        setFlashCookie(flash);
        leaving.add(root); // the server ends its session while it answers
        let count = ++navigationCount;
        let response;
        let text;
        try {
            response = await fetch(url.href, {credentials: "same-origin", headers: {Accept: "text/html", [HEADER_NAVIGATE]: root.getAttribute(ATTR_TOKEN)}});
            text = await response.text();
        } catch (e) {
            window.location.assign(url.href);
            return;
        }
        if (count !== navigationCount) {
            return;
        }
        let landed = new URL(response.url || url.href);
        landed.hash = url.hash;
        let doc = new DOMParser().parseFromString(text, "text/html");
        if (!response.ok || landed.origin !== location.origin || !replaceable(doc, root, landed.href)) {
            diagnose("L007", landed.href);
            redirectTo(landed.href, {replace: mode !== LINK_STATE_PUSH});
            return;
        }
        // The URL first: the new page's stream opens with it as its HX-Current-URL.
        if (mode === LINK_STATE_PUSH) {
            saveScroll();
            history.pushState(entryState(root, 0), "", landed.pathname + landed.search + landed.hash);
        } else {
            history.replaceState(entryState(root, 0), "", landed.pathname + landed.search + landed.hash);
        }
        await htmx.swap({sourceElement: document.body, target: document.body, text, swap: "outerHTML", transition: false});
        let fresh = document.querySelector(ROOT_SELECTOR);
        if (fresh) {
            tagEntry(fresh, scroll ?? 0);
        }
        if (scroll != null) {
            window.scrollTo(0, scroll);
        } else if (landed.hash) {
            scrollToHash(landed);
        } else {
            window.scrollTo(0, 0);
        }
    }

    function onLinkClick(evt) {
        if (evt.defaultPrevented || evt.button !== 0 || evt.metaKey || evt.ctrlKey || evt.shiftKey || evt.altKey) {
            return;
        }
        let link = evt.target.closest?.(`a[${ATTR_LINK}]`);
        if (!link || (link.target && link.target !== "_self") || link.hasAttribute("download")) {
            return;
        }
        let url = new URL(link.href, location.href);
        let root = document.querySelector(ROOT_SELECTOR);
        let here = new URL(location.href);
        if (!root || url.origin !== location.origin || (url.pathname + url.search === here.pathname + here.search && url.hash)) {
            return; // not a live page, another site, or an anchor on this page: the browser's own
        }
        let mode = link.getAttribute(ATTR_LINK_STATE) === LINK_STATE_REPLACE ? LINK_STATE_REPLACE : LINK_STATE_PUSH;
        let kind = link.getAttribute(ATTR_LINK);
        if (kind === LINK_PATCH) {
            evt.preventDefault();
            patchTo(root, url.href, mode);
        } else if (kind === LINK_NAVIGATE) {
            evt.preventDefault();
            navigateTo(url.href, {history: mode});
        }
    }

    // Back and Forward: htmx asks first; the entries this page made are ours to restore.
    function onHistoryRestore(evt) {
        let live = history.state?.live;
        if (!live) {
            return;
        }
        evt.preventDefault();
        let root = document.querySelector(ROOT_SELECTOR);
        let scroll = scrolls.get(live.key) ?? live.scroll ?? 0;
        let restored = root && live.page === pageIds.get(root)
            ? patchTo(root, location.href, HISTORY_KEEP, scroll)
            : navigateTo(location.href, {history: HISTORY_KEEP, scroll});
        restored.finally(() => {
            restoring = false;
        });
    }

    // Leaving an entry: where it was scrolled to (the navigation API says so before it moves).
    function onTraverse(evt) {
        if (evt.navigationType === "traverse" && currentKey) {
            scrolls.set(currentKey, window.scrollY);
        }
    }

    function onPopState() {
        currentKey = history.state?.live?.key ?? null;
        restoring = currentKey !== null;
        if (restoring && !htmx.config.history) {
            onHistoryRestore({preventDefault() {}}); // htmx's history is off: it will not ask
        }
    }

    let scrollTimer = null;

    function onScroll() {
        if (restoring) {
            return;
        }
        if (currentKey) {
            scrolls.set(currentKey, window.scrollY);
        }
        clearTimeout(scrollTimer);
        scrollTimer = setTimeout(saveScroll, 100);
    }

    // ---- one stream for every page of the browser: the page's side -----------------------------------
    // Each connection attempt of a page's stream is a channel of its own on the shared stream
    // (`<page>.<n>`), so frames and ends of an older attempt never reach a newer one. htmx's
    // hx-sse opens the stream through muxFetch (the request's ctx.fetch, and window.fetch for its
    // reconnects): it gets a Response whose body is what the hub routes to the channel.
    const MUX_MODES = ["auto", "worker", "broadcast", "off"];
    const MUX_SETTING = "fastapi-live:multiplex"; // localStorage: overrides client_config multiplex (tests, debugging)
    const HUB_CHANNEL = HUB_NAME; // the BroadcastChannel between tabs and the leader tab's hub
    const LEADER_LOCK = "fastapi-live:leader";
    const docId = Math.random().toString(36).slice(2) + Date.now().toString(36);
    const muxChannels = new Map(); // channel -> {resolve, reject, controller, body, message, url, answered, ended}
    const muxEncoder = new TextEncoder();
    let muxChannelCount = 0;
    let hubSend = null;

    function wantedMuxMode() {
        let wanted = config.multiplex;
        try {
            wanted = localStorage.getItem(MUX_SETTING) || wanted;
        } catch (e) {
            // storage refused (privacy settings): the configured mode
        }
        if (wanted === true || wanted == null) {
            wanted = "auto";
        } else if (wanted === false) {
            wanted = "off";
        }
        if (!MUX_MODES.includes(wanted)) {
            diagnose("L018", wanted);
            wanted = "auto";
        }
        return wanted;
    }

    let muxWanted = "auto";

    function startMultiplex() {
        let wanted = (muxWanted = wantedMuxMode());
        if (wanted === "off") {
            return null;
        }
        if ((wanted === "auto" || wanted === "worker") && typeof SharedWorker === "function" && currentScript?.src) {
            try {
                return startWorkerHub();
            } catch (e) {
                diagnose("L019", e);
            }
        }
        if (wanted !== "worker" && typeof BroadcastChannel === "function" && navigator.locks) {
            return startLeaderHub();
        }
        return null;
    }

    // A lock held by a promise nothing references may be let go when that promise is collected:
    // these keep theirs.
    const heldLocks = [];

    function holdLock(name, onGranted) {
        return navigator.locks?.request(name, () => {
            onGranted?.();
            return new Promise((release) => heldLocks.push(release));
        });
    }

    // The hub watches a page's lock only once the page holds it (a request made first would
    // be granted at once, and detach a page that is alive).
    let docLockHeld = Promise.resolve();

    function holdDocLock() {
        if (navigator.locks) {
            docLockHeld = new Promise((resolve) => holdLock(DOC_LOCK + docId, resolve));
        }
    }

    function startWorkerHub() {
        // Named for the hub's message protocol: pages of a newer client never talk to an older hub.
        let worker = new SharedWorker(currentScript.src, {name: HUB_NAME});
        worker.port.onmessage = (e) => onHubMessage(e.data);
        worker.addEventListener("error", (e) => {
            diagnose("L019", e.message ?? e);
            stopMultiplex();
        });
        worker.port.start();
        hubSend = (message) => worker.port.postMessage(message);
        holdDocLock();
        return "worker";
    }

    // No SharedWorker (Android Chrome): one tab, the holder of the leader lock, runs the hub; the
    // others reach it over a BroadcastChannel. When it closes, the next tab in line takes over.
    function startLeaderHub() {
        let channel = new BroadcastChannel(HUB_CHANNEL);
        let hub = null;
        let deliver = (message) => {
            channel.postMessage(message);
            onHubMessage(message);
        };
        channel.onmessage = (e) => {
            let op = e.data?.op;
            if (op === "attach" || op === "detach") {
                hub?.receive(e.data, deliver);
            } else {
                onHubMessage(e.data);
            }
        };
        hubSend = (message) => (hub ? hub.receive(message, deliver) : channel.postMessage(message));
        holdLock(LEADER_LOCK, () => {
            hub = createHub();
            deliver({op: "leader"});
        }); // held while this tab lives
        holdDocLock();
        return "broadcast";
    }

    function stopMultiplex() {
        muxMode = null;
        for (let channel of [...muxChannels.keys()]) {
            endChannel(channel);
        }
    }

    function muxFetch(url, init = {}) {
        if (!muxMode) {
            return fetch(url, {...init, liveMux: false});
        }
        let href = new URL(url, location.href).href;
        let channel = `${docId}.${++muxChannelCount}`;
        let signal = init.signal;
        return new Promise((resolve, reject) => {
            if (signal?.aborted) {
                reject(signal.reason ?? new DOMException("aborted", "AbortError"));
                return;
            }
            let entry = {resolve, reject, controller: null, url: href, answered: false, ended: false};
            entry.body = new ReadableStream({
                start(controller) {
                    entry.controller = controller;
                },
                cancel() {
                    closeChannel(channel);
                },
            });
            entry.message = {op: "attach", url: href, channel, doc: docId, headers: {...(init.headers || {})}};
            muxChannels.set(channel, entry);
            signal?.addEventListener("abort", () => {
                if (!entry.answered) {
                    entry.answered = true;
                    reject(signal.reason ?? new DOMException("aborted", "AbortError"));
                }
                closeChannel(channel);
            }, {once: true});
            docLockHeld.then(() => {
                if (muxChannels.get(channel) === entry && !entry.answered) {
                    hubSend(entry.message);
                }
            });
        });
    }

    // The page stopped reading the channel (left, hidden by htmx, aborted): the hub detaches it.
    function closeChannel(channel) {
        let entry = muxChannels.get(channel);
        if (!entry) {
            return;
        }
        muxChannels.delete(channel);
        entry.ended = true;
        hubSend?.({op: "detach", url: entry.url, channels: [channel]});
        try {
            entry.controller.close();
        } catch (e) {
            // already closed or cancelled
        }
    }

    // The server or the hub ended the channel: hx-sse sees its stream end and reconnects.
    function endChannel(channel) {
        let entry = muxChannels.get(channel);
        if (!entry) {
            return;
        }
        entry.ended = true;
        try {
            entry.controller.close();
        } catch (e) {
            // already closed or cancelled
        }
        if (entry.answered) {
            muxChannels.delete(channel);
        } else if (!muxMode) {
            muxChannels.delete(channel);
            entry.answered = true;
            entry.reject(new TypeError("fastapi-live: the shared live stream is off"));
        }
        // Not answered yet: its frames (a redirect) are kept for the answer that follows.
    }

    function onHubMessage(message) {
        if (message?.op === "leader") {
            // A new leader: channels the old one carried are gone; requests it never answered go again.
            for (let [channel, entry] of [...muxChannels]) {
                if (entry.answered) {
                    endChannel(channel);
                } else {
                    hubSend(entry.message);
                }
            }
            return;
        }
        let entry = muxChannels.get(message?.channel);
        if (!entry) {
            return;
        }
        if (message.op === "frame") {
            if (!entry.ended) {
                entry.controller.enqueue(muxEncoder.encode(message.text));
            }
        } else if (message.op === "end") {
            endChannel(message.channel);
        } else if (message.op === "attached" && !entry.answered) {
            entry.answered = true;
            if (message.status === 200) {
                entry.resolve(new Response(entry.body, {status: 200, headers: {"Content-Type": "text/event-stream"}}));
                if (entry.ended) {
                    muxChannels.delete(message.channel);
                }
            } else {
                muxChannels.delete(message.channel);
                if (message.status === 0) {
                    entry.reject(new TypeError(`fastapi-live: the shared live stream could not attach this page: ${message.text}`));
                } else {
                    entry.resolve(new Response(message.text, {status: message.status, headers: {"Content-Type": "application/json"}}));
                }
            }
        }
    }

    let muxMode = startMultiplex();
    if (muxMode) {
        // hx-sse reconnects with the global fetch and the first request's options, which carry liveMux.
        let pageFetch = window.fetch.bind(window);
        window.fetch = function (input, init) {
            if (init?.liveMux && muxMode) {
                return muxFetch(input, init);
            }
            return pageFetch(input, init);
        };
        // A hidden tab's page stays attached: on the shared stream it costs no connection.
        htmx.config.sse = {...htmx.config.sse, pauseOnBackground: false};
        window.addEventListener("pagehide", () => {
            for (let channel of [...muxChannels.keys()]) {
                closeChannel(channel);
            }
        });
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
        if (s.disconnected || leaving.has(root)) {
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

    // A stream that has not opened within disconnectedTimeout shows the error state, and says why.
    function watchFirstConnection(root) {
        let s = state(root);
        if (s.everConnected || s.watchdog) {
            return;
        }
        s.watchdog = setTimeout(() => {
            if (s.everConnected || !root.isConnected || leaving.has(root)) {
                return;
            }
            if (!s.attempts) {
                let url = root.getAttribute(ATTR_SSE_CONNECT);
                let why = muxWanted === "off" ? "multiplexing is off (client_config multiplex)" : "this browser has no SharedWorker, nor BroadcastChannel with Web Locks";
                diagnose(muxMode ? "L017" : "L016", muxMode ? url : `${url}: ${why}`);
            }
            s.disconnected = true;
            root.classList.remove(CLASS_CONNECTED);
            root.classList.add(CLASS_DISCONNECTED, CLASS_ERROR, CLASS_CLIENT_ERROR);
        }, config.disconnectedTimeout);
    }

    function markConnected(root) {
        let s = state(root);
        clearTimeout(s.timer);
        clearTimeout(s.watchdog);
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

    // A text patch (SWAP_TEXT): a region whose change is one text node gets only that node's new
    // text. It applies to the region at the patch's base version whose non-empty text nodes,
    // joined by NUL, have the patch's CRC-32 (over UTF-16 code units, little-endian, in letters a-z);
    // anything else asks the server for the region whole: a region never silently differs.
    const CRC_TABLE = (() => {
        let table = new Uint32Array(256);
        for (let n = 0; n < 256; n++) {
            let c = n;
            for (let k = 0; k < 8; k++) {
                c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
            }
            table[n] = c >>> 0;
        }
        return table;
    })();

    function textChecksum(text) {
        let crc = 0xffffffff;
        for (let i = 0; i < text.length; i++) {
            let unit = text.charCodeAt(i);
            crc = CRC_TABLE[(crc ^ unit) & 0xff] ^ (crc >>> 8);
            crc = CRC_TABLE[(crc ^ (unit >>> 8)) & 0xff] ^ (crc >>> 8);
        }
        let value = (crc ^ 0xffffffff) >>> 0;
        let letters = "";
        do {
            letters = String.fromCharCode(97 + (value % 26)) + letters;
            value = Math.floor(value / 26);
        } while (value);
        return letters;
    }

    function textNodesOf(el) {
        let walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        let nodes = [];
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (node.data) {
                nodes.push(node);
            }
        }
        return nodes;
    }

    function applyTextPatch(target, fragment, spec) {
        if (!target.hasAttribute(ATTR_VERSION)) {
            return []; // another element with the region's id (a page with duplicate ids): not the region
        }
        let version = Number(spec.v);
        let current = versionOf(target);
        if (current >= version) {
            return []; // the region already shows this render or a newer one
        }
        let why = REFRESH_VERSION;
        if (current === Number(spec.b)) {
            let nodes = textNodesOf(target);
            let index = Number(spec.n);
            if (index < nodes.length && textChecksum(nodes.map((node) => node.data).join("\0")) === String(spec.h)) {
                nodes[index].data = fragment.textContent;
                target.setAttribute(ATTR_VERSION, String(version));
                return [];
            }
            why = REFRESH_TEXT;
        }
        diagnose(why === REFRESH_TEXT ? "L030" : "L031", target);
        let root = rootOf(target);
        if (root && target.id) {
            postEvent(root, REFRESH_EVENT, JSON.stringify({id: target.id, why}), "application/json").catch(() => {});
        }
        return [];
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
                if (elt === root) {
                    streamHeaders.set(root, headers);
                    watchFirstConnection(root);
                    if (muxMode) {
                        ctx.fetch = muxFetch;
                        ctx.request.liveMux = true;
                    }
                }
                return;
            }
            let name = ctx.livePush ?? eventNameFor(elt, ctx.sourceEvent);
            if (name) {
                headers[HEADER_EVENT] = name;
            }
            let component = componentOf(elt);
            if (component === undefined) {
                return false; // target= matches nothing: L013, nothing is sent
            }
            let evt = ctx.sourceEvent;
            if (evt?.type === "submit" && ctx.request.form) {
                if (locks.has(ctx.request.form)) {
                    return false; // already in flight: a double click submits once
                }
                lockForm(ctx.request.form, ctx);
            }
            let body = ctx.request.body;
            if (component && body?.set) {
                body.set(PARAM_COMPONENT, component);
            }
            stripUploadFields(elt, body);
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
            scheduleFlashClears();
            for (let [form, lock] of locks) {
                lockControls(form, lock); // controls a swap added while the submit is in flight
            }
            if (pendingOps.length) {
                // After the swap's DOM changes, so a push event sees the new DOM.
                queueMicrotask(runClientOps);
            }
        },

        handle_swap(style, target, fragment, spec) {
            if (style === SWAP_TEXT) {
                return applyTextPatch(target, fragment, spec);
            }
            if (style !== SWAP_STREAM) {
                return false;
            }
            return streamInsert(target, fragment, spec);
        },
    });

    // ---- uploads ------------------------------------------------------------------------------------
    // Chosen files stay here, by entry ref: the server learns of them in a preflight (an event
    // that answers with a signed token per accepted entry), then each goes over in raw chunks
    // (POST, offset in a header) to the upload URL, or straight to an external uploader.
    const uploadEntries = new Map(); // ref -> {ref, upload, file, root, url, token, chunkSize, external, status, promise}
    let uploadCounter = 0;

    function uploadConfigOf(input) {
        try {
            return JSON.parse(input.getAttribute(ATTR_UPLOAD_CONFIG) || "{}");
        } catch (e) {
            return {};
        }
    }

    function uploadInputOf(root, name) {
        return root?.querySelector(`input[${ATTR_UPLOAD}="${CSS.escape(name)}"]`);
    }

    function accepts(accept, file) {
        if (!accept?.length || accept.includes("*")) {
            return true;
        }
        let name = file.name.toLowerCase();
        let type = (file.type || "").toLowerCase();
        return accept.some((item) => {
            if (item.startsWith(".")) {
                return name.endsWith(item);
            }
            return item.endsWith("/*") ? type.startsWith(item.slice(0, -1)) : type === item;
        });
    }

    // The browser's own check, before a byte is sent; the server checks again (and counts).
    function localErrors(config, file) {
        let errors = [];
        if (!accepts(config.accept, file)) {
            errors.push("Not accepted");
        }
        if (config.max_file_size != null && file.size > config.max_file_size) {
            errors.push("Too large");
        }
        return errors;
    }

    function dropEntry(entry) {
        entry.status = entry.status === "done" ? "done" : "cancelled";
        uploadEntries.delete(entry.ref);
        if (entry.previewUrl) {
            URL.revokeObjectURL(entry.previewUrl);
        }
    }

    function uploadError(entry, detail) {
        entry.status = "failed";
        let target = uploadInputOf(entry.root, entry.upload) || entry.root;
        target?.dispatchEvent(new CustomEvent(EVENT_PREFIX + "upload-error", {bubbles: true, detail: {ref: entry.ref, upload: entry.upload, ...detail}}));
    }

    async function chooseFiles(input, files) {
        let root = rootOf(input);
        let name = input.getAttribute(ATTR_UPLOAD);
        if (!root || !name || !files?.length) {
            return;
        }
        let config = uploadConfigOf(input);
        let chosen = [...files].map((file) => ({
            ref: `u${++uploadCounter}-${Math.random().toString(36).slice(2, 8)}`,
            upload: name,
            file,
            root,
            url: input.getAttribute(ATTR_UPLOAD_URL),
            status: "chosen",
            errors: localErrors(config, file),
        }));
        if (config.max_entries === 1 && chosen.length === 1) {
            // A single-file upload: the new file replaces the old one (the server does the same).
            for (let entry of [...uploadEntries.values()]) {
                if (entry.root === root && entry.upload === name) {
                    dropEntry(entry);
                }
            }
        }
        for (let entry of chosen) {
            uploadEntries.set(entry.ref, entry);
        }
        input.value = ""; // the files are kept here; choosing the same file again is a change again
        let described = chosen.map(({ref, file}) => ({ref, name: file.name, size: file.size, type: file.type, last_modified: file.lastModified}));
        let granted;
        let preflight = new Promise((resolve) => { granted = resolve; });
        chosen.forEach((entry) => { entry.preflight = preflight; }); // a submit meanwhile waits for it
        let reply;
        try {
            reply = await postEvent(root, UPLOAD_EVENT, JSON.stringify({upload: name, entries: described}), "application/json");
        } catch (e) {
            chosen.forEach((entry) => uploadError(entry, {status: 0, detail: String(e)}));
            granted();
            return;
        }
        for (let entry of chosen) {
            let grant = reply?.entries?.[entry.ref];
            if (grant?.token && !entry.errors.length) {
                Object.assign(entry, {token: grant.token, chunkSize: grant.chunk_size, external: grant.external, status: "ready"});
            } else {
                entry.status = "refused";
            }
        }
        granted();
        fillPreviews();
        let form = input.form;
        let changeEvent = form?.getAttribute(BINDING_BY_DOM_EVENT.input);
        if (changeEvent) {
            // The form's change event, as LiveView sends it: after the server knows the entries.
            let body = new URLSearchParams();
            for (let [key, value] of new FormData(form)) {
                if (typeof value === "string") {
                    body.append(key, value);
                }
            }
            body.set(PARAM_TARGET, name);
            await postEvent(root, changeEvent, body, "application/x-www-form-urlencoded").catch(() => {});
        }
        if (config.auto_upload) {
            chosen.filter((entry) => entry.status === "ready").forEach(transfer);
        }
    }

    function transfer(entry) {
        if (!entry.promise) {
            entry.promise = entry.external ? uploadExternal(entry) : uploadChunks(entry);
        }
        return entry.promise;
    }

    function pause(ms) {
        return new Promise((resolve) => setTimeout(resolve, ms));
    }

    async function uploadChunks(entry) {
        entry.status = "uploading";
        let size = entry.file.size;
        let offset = 0;
        let failures = 0;
        while (entry.status === "uploading") {
            let end = Math.min(offset + entry.chunkSize, size);
            let response = null;
            try {
                response = await fetch(entry.url, {
                    method: "POST",
                    credentials: "same-origin",
                    headers: {
                        "Content-Type": "application/octet-stream",
                        [HEADER_TOKEN]: entry.root.getAttribute(ATTR_TOKEN),
                        [HEADER_UPLOAD_TOKEN]: entry.token,
                        [HEADER_UPLOAD_REF]: entry.ref,
                        [HEADER_UPLOAD_OFFSET]: String(offset),
                    },
                    body: entry.file.slice(offset, end),
                });
            } catch (e) {
                response = null; // the network: retried below
            }
            if (response?.ok) {
                let answer = await response.json();
                offset = answer.offset;
                failures = 0;
                if (answer.done) {
                    entry.status = "done";
                    return true;
                }
                continue;
            }
            if (response && response.status < 500 && response.status !== 408 && response.status !== 429) {
                // Refused for good: the entry failed on the server (the page shows why), was
                // cancelled, or its session is gone.
                let detail = await response.text();
                diagnose("L008", detail);
                uploadError(entry, {status: response.status, detail});
                return false;
            }
            failures += 1;
            if (failures > config.uploadRetries) {
                uploadError(entry, {status: response?.status ?? 0, detail: "the upload did not get through"});
                return false;
            }
            diagnose("L009", response?.status ?? "network error");
            // Resumes at the same offset: the server rolls back a chunk cut off mid-way and
            // answers a chunk it already has with where its bytes end.
            await pause(Math.min(config.uploadRetryDelay * 2 ** (failures - 1), 10000) * (0.7 + Math.random() * 0.6));
        }
        return false;
    }

    function uploadExternal(entry) {
        entry.status = "uploading";
        let meta = entry.external;
        let reported = 0;
        let lastReport = 0;
        let reporting = Promise.resolve();
        let report = (payload) => {
            reporting = reporting.then(() => postEvent(entry.root, UPLOAD_PROGRESS_EVENT, JSON.stringify({token: entry.token, ...payload}), "application/json")).catch(() => {});
            return reporting;
        };
        return new Promise((resolve) => {
            let xhr = new XMLHttpRequest();
            let body = new FormData();
            for (let [key, value] of Object.entries(meta.fields || {})) {
                body.append(key, value);
            }
            body.append("file", entry.file);
            xhr.open(meta.method || "POST", meta.url);
            xhr.upload.onprogress = (evt) => {
                let percent = evt.lengthComputable ? Math.floor((evt.loaded * 99) / evt.total) : 0;
                if (percent > reported && Date.now() - lastReport >= config.uploadProgressInterval) {
                    reported = percent;
                    lastReport = Date.now();
                    report({progress: percent});
                }
            };
            xhr.onload = async () => {
                if (xhr.status >= 200 && xhr.status < 300) {
                    entry.status = "done";
                    await report({progress: 100});
                    resolve(true);
                } else {
                    await report({error: `external uploader answered ${xhr.status}`});
                    uploadError(entry, {status: xhr.status, detail: xhr.responseText});
                    resolve(false);
                }
            };
            xhr.onerror = async () => {
                await report({error: "external uploader unreachable"});
                uploadError(entry, {status: 0, detail: "external uploader unreachable"});
                resolve(false);
            };
            xhr.send(body);
        });
    }

    function pendingUploads(form) {
        let root = rootOf(form);
        let names = new Set([...form.querySelectorAll(`input[${ATTR_UPLOAD}]`)].map((input) => input.getAttribute(ATTR_UPLOAD)));
        // "chosen": its preflight is still on the way (a quick click on Upload); the submit waits for it.
        return [...uploadEntries.values()].filter((e) => e.root === root && names.has(e.upload) && ["chosen", "ready", "uploading"].includes(e.status));
    }

    // Fields of live file inputs never go with an event: their files travel as uploads.
    function stripUploadFields(elt, body) {
        let form = elt?.closest?.("form") || elt?.form;
        if (!form || !body?.delete) {
            return;
        }
        for (let input of form.querySelectorAll(`input[${ATTR_UPLOAD}]`)) {
            body.delete(input.name);
        }
    }

    function fillPreviews() {
        for (let img of document.querySelectorAll(`img[${ATTR_UPLOAD_PREVIEW}]:not([src])`)) {
            let entry = uploadEntries.get(img.getAttribute(ATTR_UPLOAD_PREVIEW));
            if (entry && entry.file.type.startsWith("image/") && !entry.previewFailed) {
                entry.previewUrl ??= URL.createObjectURL(entry.file);
                img.addEventListener("error", () => {
                    entry.previewFailed = true; // not an image the browser can show: no preview, no retry
                    img.removeAttribute("src");
                }, {once: true});
                img.src = entry.previewUrl;
            }
        }
    }

    function watchUploads() {
        document.addEventListener("change", (evt) => {
            let input = evt.target;
            if (input?.matches?.(`input[type=file][${ATTR_UPLOAD}]`)) {
                evt.stopPropagation(); // the form's change event goes after the preflight, without the files
                chooseFiles(input, input.files);
            }
        }, true);
        document.addEventListener("input", (evt) => {
            if (evt.target?.matches?.(`input[type=file][${ATTR_UPLOAD}]`)) {
                evt.stopPropagation();
            }
        }, true);
        document.addEventListener("submit", (evt) => {
            let form = evt.target;
            if (!(form instanceof HTMLFormElement)) {
                return;
            }
            if (form.__liveUploadsSent) {
                form.__liveUploadsSent = false;
                return;
            }
            let pending = pendingUploads(form);
            if (!pending.length) {
                return;
            }
            // LiveView's order: the files first, then the submit event (which consumes them).
            evt.preventDefault();
            evt.stopPropagation();
            if (form.__liveUploading) {
                return;
            }
            form.__liveUploading = true;
            form.classList.add(CLASS_UPLOADING);
            let send = async (entry) => {
                await entry.preflight;
                return entry.status === "ready" || entry.status === "uploading" ? transfer(entry) : false;
            };
            Promise.allSettled(pending.map(send)).then(() => {
                form.__liveUploading = false;
                form.classList.remove(CLASS_UPLOADING);
                form.__liveUploadsSent = true;
                form.requestSubmit();
                pending.filter((entry) => entry.status === "done").forEach(dropEntry); // the submit consumes them
            });
        }, true);
        let dropZone = (evt) => evt.target?.closest?.(`[${ATTR_DROP_TARGET}]`);
        for (let type of ["dragenter", "dragover"]) {
            document.addEventListener(type, (evt) => {
                let zone = dropZone(evt);
                if (zone) {
                    evt.preventDefault();
                    zone.classList.add(CLASS_DROP_ACTIVE);
                }
            });
        }
        document.addEventListener("dragleave", (evt) => {
            let zone = dropZone(evt);
            if (zone && !zone.contains(evt.relatedTarget)) {
                zone.classList.remove(CLASS_DROP_ACTIVE);
            }
        });
        document.addEventListener("drop", (evt) => {
            let zone = dropZone(evt);
            if (!zone) {
                return;
            }
            evt.preventDefault();
            zone.classList.remove(CLASS_DROP_ACTIVE);
            let input = uploadInputOf(rootOf(zone), zone.getAttribute(ATTR_DROP_TARGET));
            if (input) {
                chooseFiles(input, evt.dataTransfer?.files);
            }
        });
        // A remounted page has a fresh session: what was chosen before is gone with the old one.
        document.addEventListener(EVENT_PREFIX + "remounted", (evt) => {
            for (let entry of [...uploadEntries.values()]) {
                if (entry.root === evt.target && entry.status !== "done") {
                    uploadError(entry, {status: 410, detail: "the live session was remounted; choose the file again"});
                    dropEntry(entry);
                }
            }
        });
        new MutationObserver(fillPreviews).observe(document.body, {subtree: true, childList: true});
    }

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
        pushEventTo(target, event, payload) {
            return pushEventTo(target, event, payload);
        },
        execJS(el, commands) {
            execJS(el, commands);
        },
        chooseFiles(input, files) {
            return chooseFiles(input, files);
        },
        patch(url, {replace = false} = {}) {
            let root = document.querySelector(ROOT_SELECTOR);
            return root ? patchTo(root, url, replace ? LINK_STATE_REPLACE : LINK_STATE_PUSH) : Promise.resolve();
        },
        navigate(url, {replace = false} = {}) {
            return navigateTo(url, {history: replace ? LINK_STATE_REPLACE : LINK_STATE_PUSH});
        },
    };

    // ---- flash messages that close themselves (put_flash(..., clear_after=seconds)) ------------------
    const flashTimers = new WeakSet();

    function scheduleFlashClears() {
        for (let message of document.querySelectorAll(`[${ATTR_CLEAR_AFTER}]`)) {
            if (flashTimers.has(message)) {
                continue;
            }
            flashTimers.add(message);
            let delay = Number(message.getAttribute(ATTR_CLEAR_AFTER));
            // Its close button sends the clear to the server, as a click would.
            setTimeout(() => message.isConnected && message.querySelector(`[${BINDING_BY_DOM_EVENT.click}]`)?.click(), delay);
        }
    }

    function start() {
        scheduleFlashClears();
        scanHooks(document);
        observeHooks();
        watchUploads();
        let root = document.querySelector(ROOT_SELECTOR);
        if (root) {
            tagEntry(root);
        }
        document.addEventListener("click", onLinkClick);
        document.addEventListener("htmx:before:history:restore", onHistoryRestore);
        window.addEventListener("popstate", onPopState);
        // The Navigation API's own event (not a wire name, though it reads like OP_NAVIGATE).
        window.navigation?.addEventListener(`navigate`, onTraverse);
        window.addEventListener("scroll", onScroll, {passive: true});
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
