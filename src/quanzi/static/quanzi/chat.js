/* Quanzi chat room client.
 *
 * One WebSocket per page to /ws/ (session cookie auth). Server events (JSON with "type"):
 * message.new / message.edited {message}, message.deleted / message.pinned /
 * message.unpinned {message_id}, member.muted {user_id, until, reason},
 * member.kicked / member.banned {user_id}, notice.new {notice}, error {code, message, ref},
 * message.ack {ref, message}. Client frames: message.send, read, ping.
 *
 * Reconnects with backoff and fetches what it missed from the REST API (?after=<last id>);
 * messages are deduplicated by id. Without an open socket, sending falls back to the REST
 * API. Message HTML comes sanitised from the server ("html" field) and is the only thing
 * inserted as HTML; everything else is text.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("chat-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var initial = JSON.parse(document.getElementById("chat-initial").textContent);
  var S = config.strings;
  var MOD = config.moderation || {};
  var me = config.me;
  var groupId = config.groupId;

  var listNode = document.getElementById("message-list");
  var scroller = document.getElementById("messages");
  var loadEarlierButton = document.getElementById("load-earlier");
  var errorNode = document.getElementById("composer-error");
  var muteNote = document.getElementById("mute-note");
  var connNode = document.getElementById("conn-status");
  var pinnedBar = document.getElementById("pinned-bar");
  var composer = document.getElementById("composer");
  var input = document.getElementById("composer-input");
  var replyPreview = document.getElementById("reply-preview");
  var replyText = document.getElementById("reply-text");

  var messages = new Map(); // id -> message dict
  var pinned = new Map(); // id -> {id, excerpt, author}
  var pending = new Map(); // ref -> {body, clientId, replyTo, timer}
  var firstId = null;
  var lastId = 0;
  var hasMore = !!config.hasMore;
  var replyTo = null;
  var socket = null;
  var attempts = 0;
  var pingTimer = null;
  var readTimer = null;
  var lastReadSent = 0;
  var removed = false;
  var cards = new Map(); // message id -> archived link cards (quanzi.archive) shown under it
  var cardWanted = new Map(); // message id -> lookups so far, for messages whose links may get cards
  var cardTimer = null;
  var CARD_RETRY_MS = [0, 4000, 15000, 45000]; // the copy is made in the background after sending

  // --- helpers ----------------------------------------------------------------------------

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)[sd]/g, function (_, key) {
      return values[key] !== undefined ? String(values[key]) : "";
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (e) {
      var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
      return match ? decodeURIComponent(match[1]) : "";
    }
  }

  function api(method, url, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (method !== "GET") options.headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        if (!response.ok) {
          var detail = data && (data.message || data.detail);
          var error = new Error(typeof detail === "string" ? detail : S.sendFailed);
          error.code = data && data.code;
          throw error;
        }
        return data;
      });
    });
  }

  function endpoint(name, id) {
    return config.endpoints[name].replace("{id}", encodeURIComponent(id));
  }

  function pageOf(data) {
    // Accept either a bare list or {messages|items: [...], has_more|more: bool}.
    if (Array.isArray(data)) return { items: data, more: false };
    data = data || {};
    return { items: data.messages || data.items || data.results || [], more: !!(data.has_more || data.more) };
  }

  var lang = document.documentElement.lang || undefined;
  var timeFormat, dateTimeFormat, dayFormat;
  try {
    timeFormat = new Intl.DateTimeFormat(lang, { timeZone: config.timezone, hour: "2-digit", minute: "2-digit" });
    dateTimeFormat = new Intl.DateTimeFormat(lang, {
      timeZone: config.timezone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    });
    dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: config.timezone });
  } catch (e) {
    timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
    dateTimeFormat = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    dayFormat = new Intl.DateTimeFormat("en-CA");
  }

  function formatTime(iso) {
    var date = new Date(iso);
    if (isNaN(date)) return "";
    var sameDay = dayFormat.format(date) === dayFormat.format(new Date());
    return (sameDay ? timeFormat : dateTimeFormat).format(date);
  }

  function plainText(html) {
    // The text of the server's sanitised HTML, for one-line excerpts (an inert template).
    var template = document.createElement("template");
    template.innerHTML = html || "";
    return (template.content.textContent || "").replace(/\s+/g, " ").trim();
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  function showError(text) {
    if (!errorNode) return;
    errorNode.textContent = text;
    errorNode.classList.remove("hidden");
  }

  function clearError() {
    if (!errorNode) return;
    errorNode.textContent = "";
    errorNode.classList.add("hidden");
  }

  function setConnection(state) {
    if (!connNode) return;
    connNode.setAttribute("data-state", state);
    connNode.title = state === "live" ? S.live : state === "offline" ? S.offline : S.connecting;
  }

  // --- rendering --------------------------------------------------------------------------

  function canEditOwn(message) {
    var age = (Date.now() - new Date(message.created_at).getTime()) / 1000;
    return message.author && message.author.id === me.id && age <= config.editWindowSeconds;
  }

  function renderMessage(message) {
    var mine = message.author && message.author.id === me.id;
    var classes = ["msg"];
    if (message.kind === "system") classes.push("msg-system");
    if (mine) classes.push("msg-mine");
    if (message.deleted) classes.push("msg-deleted");
    if (message.pinned) classes.push("msg-pinned");
    var held = message.moderation_state === "held", modRemoved = message.moderation_state === "removed";
    if (held) classes.push("msg-held");
    if (modRemoved) classes.push("msg-removed");
    if (!mine && ((message.mentions || []).indexOf(me.id) !== -1 || message.mentions_all)) {
      classes.push("msg-mentions-me");
    }
    var li = el("li", classes.join(" "));
    li.id = "m-" + message.id;
    li.setAttribute("data-id", String(message.id));
    if (message.author) li.setAttribute("data-author", String(message.author.id));

    if (message.kind === "system") {
      var sys = el("div", "msg-html");
      sys.innerHTML = message.html; // sanitised by the server
      li.appendChild(sys);
      var sysTime = el("time", "msg-time", formatTime(message.created_at));
      sysTime.setAttribute("datetime", message.created_at);
      li.appendChild(sysTime);
      return li;
    }

    var name = message.author ? message.author.name : S.unknown;
    var avatar;
    if (message.author && message.author.avatar) {
      avatar = el("img", "avatar small");
      avatar.src = message.author.avatar;
      avatar.alt = "";
    } else {
      avatar = el("span", "avatar small", name.charAt(0).toUpperCase());
      avatar.setAttribute("aria-hidden", "true");
    }
    li.appendChild(avatar);

    var body = el("div", "msg-main");
    var head = el("div", "msg-head");
    head.appendChild(el("strong", "msg-author", name));
    var time = el("time", "msg-time", formatTime(message.created_at));
    time.setAttribute("datetime", message.created_at);
    time.title = new Date(message.created_at).toLocaleString(lang, { timeZone: config.timezone });
    head.appendChild(time);
    if (message.edited_at && !message.deleted) head.appendChild(el("span", "msg-edited", S.edited));
    if (message.pinned) head.appendChild(el("span", "msg-pin-mark", "📌 " + S.pinned));
    body.appendChild(head);

    if (message.reply_to && !message.deleted) {
      var quoted = messages.get(message.reply_to.id);
      var who = quoted && quoted.author ? quoted.author.name + ": " : "";
      var excerpt = message.reply_to.excerpt || (quoted && !quoted.deleted ? quoted.body : "") || S.deleted;
      body.appendChild(el("div", "msg-reply", "↪ " + who + excerpt));
    }

    if (message.deleted) {
      body.appendChild(el("div", "msg-html muted", S.deleted));
    } else {
      var html = el("div", "msg-html");
      html.innerHTML = message.html; // sanitised by the server
      html.querySelectorAll(".mention[data-user-id]").forEach(function (node) {
        if (node.getAttribute("data-user-id") === String(me.id)) node.classList.add("mention-me");
      });
      html.querySelectorAll("a[href]").forEach(function (link) {
        link.target = "_blank";
        link.rel = "noopener noreferrer nofollow";
      });
      body.appendChild(html);
      if (cards.has(message.id)) body.appendChild(renderCards(cards.get(message.id)));
      if ((held || modRemoved) && MOD.strings) {
        // Moderation (quanzi.moderation): only the author ever receives their held/removed messages.
        body.appendChild(el("div", "msg-moderation" + (modRemoved ? " msg-moderation-removed" : ""),
          modRemoved ? MOD.strings.removed : MOD.strings.held));
      }
      if (!modRemoved) body.appendChild(renderTools(message));
    }
    li.appendChild(body);
    return li;
  }

  // --- link cards: the archived copy of each link, fetched once the server has made it -------

  function truncate(text, n) {
    text = text || "";
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  function renderCards(links) {
    var box = el("div", "msg-links post-links");
    links.forEach(function (link) {
      var card = el("a", "link-card");
      card.href = link.page_url;
      card.setAttribute("data-snapshot", String(link.id));
      if (link.image_urls && link.image_urls.length) {
        var img = el("img", "link-card-image");
        img.src = link.image_urls[0];
        img.alt = "";
        img.loading = "lazy";
        card.appendChild(img);
      }
      var cardBody = el("span", "link-card-body");
      cardBody.appendChild(el("strong", "link-card-title", truncate(link.title || link.url, 120)));
      if (link.description) cardBody.appendChild(el("span", "link-card-description", truncate(link.description, 200)));
      cardBody.appendChild(el("span", "link-card-site muted small",
        (link.site_name ? link.site_name + " · " : "") + S.archivedCopy));
      card.appendChild(cardBody);
      box.appendChild(card);
    });
    return box;
  }

  function wantCards(message) {
    if (!config.endpoints.links || message.deleted || message.kind === "system") return;
    if (message.moderation_state && message.moderation_state !== "visible") return;
    if (!/https?:\/\//i.test(message.body || message.html || "")) return; // bare URLs are text, not <a>
    if (!cardWanted.has(message.id)) cardWanted.set(message.id, 0);
    scheduleCards(CARD_RETRY_MS[0]);
  }

  function scheduleCards(delay) {
    if (cardTimer) return;
    cardTimer = setTimeout(fetchCards, delay + 300); // a page of messages is asked for in one request
  }

  function fetchCards() {
    cardTimer = null;
    var ids = Array.from(cardWanted.keys()).slice(-100);
    if (!ids.length) return;
    api("GET", config.endpoints.links + ids.join(",")).then(function (data) {
      var settled = new Set();
      ((data && data.items) || []).forEach(function (item) {
        var ready = item.links.filter(function (link) { return link.status === "ok"; });
        var waiting = item.links.some(function (link) { return link.status === "pending"; });
        if (ready.length) {
          cards.set(item.object_id, ready);
          var message = messages.get(item.object_id);
          if (message) upsert(message);
        }
        if (!waiting) settled.add(item.object_id);
      });
      var next = null;
      ids.forEach(function (id) {
        var tries = (cardWanted.get(id) || 0) + 1;
        if (settled.has(id) || tries >= CARD_RETRY_MS.length) {
          cardWanted.delete(id);
        } else {
          cardWanted.set(id, tries);
          next = next === null ? CARD_RETRY_MS[tries] : Math.min(next, CARD_RETRY_MS[tries]);
        }
      });
      if (next !== null) scheduleCards(next);
    }).catch(function () { /* cards are a nicety: the links themselves work */ });
  }

  function toolButton(action, label) {
    var button = el("button", "msg-tool", label);
    button.type = "button";
    button.setAttribute("data-action", action);
    return button;
  }

  function renderTools(message) {
    var tools = el("div", "msg-tools");
    if (config.canPost) tools.appendChild(toolButton("reply", S.reply));
    if (canEditOwn(message)) tools.appendChild(toolButton("edit", S.edit));
    if (canEditOwn(message) || config.canModerate) tools.appendChild(toolButton("delete", S.delete));
    if (config.canModerate) tools.appendChild(toolButton(message.pinned ? "unpin" : "pin", message.pinned ? S.unpin : S.pin));
    var mine = message.author && message.author.id === me.id;
    if (!mine && MOD.reportUrl && (message.moderation_state || "visible") === "visible") {
      tools.appendChild(toolButton("report", MOD.strings.report));
    }
    return tools;
  }

  function markContinuation(li) {
    // Consecutive messages of one author within five minutes share a header.
    var prev = li.previousElementSibling;
    li.classList.remove("msg-cont");
    if (!prev || li.classList.contains("msg-system") || prev.classList.contains("msg-system")) return;
    var a = messages.get(Number(prev.getAttribute("data-id")));
    var b = messages.get(Number(li.getAttribute("data-id")));
    if (!a || !b || !a.author || !b.author || a.author.id !== b.author.id || b.reply_to) return;
    if (new Date(b.created_at) - new Date(a.created_at) < 5 * 60 * 1000) li.classList.add("msg-cont");
  }

  function upsert(message) {
    if (!message || message.group_id !== groupId) return false;
    var isNew = !messages.has(message.id);
    var before = messages.get(message.id);
    if (before && before.html !== message.html) cards.delete(message.id); // edited: its links may differ
    messages.set(message.id, message);
    if (!cards.has(message.id)) wantCards(message);
    var node = renderMessage(message);
    var existing = document.getElementById("m-" + message.id);
    if (existing) {
      existing.replaceWith(node);
    } else {
      // Keep id order even when a late catch-up page arrives after live events.
      var after = null;
      var children = listNode.children;
      for (var i = children.length - 1; i >= 0; i--) {
        if (Number(children[i].getAttribute("data-id")) < message.id) {
          after = children[i];
          break;
        }
      }
      if (after) after.after(node);
      else listNode.prepend(node);
    }
    markContinuation(node);
    if (node.nextElementSibling) markContinuation(node.nextElementSibling);
    if (firstId === null || message.id < firstId) firstId = message.id;
    if (message.id > lastId) lastId = message.id;
    if (message.pinned && !message.deleted) {
      pinned.set(message.id, { id: message.id, excerpt: plainText(message.html).slice(0, 140), author: message.author ? message.author.name : "" });
    } else if (pinned.has(message.id) && (message.deleted || !message.pinned)) {
      pinned.delete(message.id);
    }
    return isNew;
  }

  function renderPinned() {
    if (!pinnedBar) return;
    pinnedBar.textContent = "";
    if (!pinned.size) {
      pinnedBar.classList.add("hidden");
      return;
    }
    pinnedBar.classList.remove("hidden");
    var items = Array.from(pinned.values()).sort(function (a, b) { return b.id - a.id; });
    items.slice(0, 3).forEach(function (item) {
      var link = el("a", "pinned-item");
      link.href = "#m-" + item.id;
      link.appendChild(el("span", "pinned-icon", "📌"));
      if (item.author) link.appendChild(el("strong", null, item.author + ": "));
      link.appendChild(el("span", null, item.excerpt || "#" + item.id));
      pinnedBar.appendChild(link);
    });
  }

  function addMessages(list, opts) {
    var stick = opts && opts.stick !== undefined ? opts.stick : nearBottom();
    var newest = 0;
    list.forEach(function (message) {
      if (upsert(message) && message.author && message.author.id !== me.id) newest = Math.max(newest, message.id);
    });
    renderPinned();
    if (stick) scrollToBottom();
    if (newest) scheduleRead();
  }

  // --- reading ----------------------------------------------------------------------------

  function scheduleRead() {
    if (readTimer) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      if (document.visibilityState !== "visible" || lastId <= lastReadSent) return;
      if (sendFrame({ type: "read", group_id: groupId, message_id: lastId })) lastReadSent = lastId;
    }, 400);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") scheduleRead();
  });

  // --- the socket -------------------------------------------------------------------------

  function sendFrame(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    if (removed) return;
    setConnection("connecting");
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.wsPath;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", function () {
      attempts = 0;
      setConnection("live");
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { sendFrame({ type: "ping" }); }, 25000);
      scheduleRead();
    });
    socket.addEventListener("message", function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      handleEvent(data);
    });
    socket.addEventListener("close", function (event) {
      clearInterval(pingTimer);
      socket = null;
      if (removed) return;
      setConnection("offline");
      if (event.code === 4401) {
        // Signed out (logout elsewhere in this session, or the session expired): reload,
        // which sends the browser to the login page instead of retrying for ever.
        setTimeout(function () { location.reload(); }, 1000);
        return;
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    attempts += 1;
    var delay = Math.min(30000, 1000 * Math.pow(2, attempts - 1)) * (0.75 + Math.random() * 0.5);
    setTimeout(connect, delay);
  }

  function catchUp() {
    // Everything after the newest message we have: covers the gap before the socket opened
    // and any time spent disconnected.
    var url = config.endpoints.messages + "?after=" + lastId + "&limit=100";
    api("GET", url).then(function (data) {
      var page = pageOf(data);
      addMessages(page.items);
      if (page.more && page.items.length) catchUp();
    }).catch(function () { /* the next reconnect tries again */ });
  }

  function handleEvent(data) {
    switch (data.type) {
      case "ready":
        // The server subscribed this socket: from now on nothing is missed, so fetch the gap.
        catchUp();
        break;
      case "message.new":
      case "message.edited":
        addMessages([data.message]);
        break;
      case "message.ack":
        settle(data.ref, data.message);
        break;
      case "message.deleted":
        patchMessage(data.message_id, { deleted: true, pinned: false, html: "", body: "" });
        break;
      case "message.pinned":
        patchMessage(data.message_id, { pinned: true });
        break;
      case "message.unpinned":
        patchMessage(data.message_id, { pinned: false });
        break;
      case "member.muted":
        if (data.user_id === me.id && (!data.circle_id || data.circle_id === config.circleId)) showMuted(data);
        break;
      case "member.unmuted":
        if (data.user_id === me.id && muteNote) muteNote.classList.add("hidden");
        break;
      case "member.kicked":
      case "member.banned":
        if (data.user_id === me.id && (!data.circle_id || data.circle_id === config.circleId)) {
          removed = true;
          showError(S.removed);
          if (composer) composer.classList.add("disabled");
          if (input) input.disabled = true;
          if (socket) socket.close();
          setConnection("offline");
        }
        break;
      case "notice.new":
        bumpNoticeBadge();
        break;
      case "error":
        failed(data.ref, data.message || S.sendFailed);
        break;
      default:
        break;
    }
  }

  function patchMessage(id, changes) {
    var message = messages.get(id);
    if (!message) return;
    addMessages([Object.assign({}, message, changes)], { stick: false });
  }

  function showMuted(data) {
    if (!muteNote) return;
    var until = data.until ? formatTime(data.until) : "";
    var text = fmt(S.mutedUntil, { until: until });
    if (data.reason) text += " " + S.reason + " " + data.reason;
    muteNote.textContent = text;
    muteNote.classList.remove("hidden");
  }

  function bumpNoticeBadge() {
    var badge = document.getElementById("notice-badge");
    if (!badge) return;
    badge.textContent = String((parseInt(badge.textContent, 10) || 0) + 1);
    badge.classList.remove("hidden");
  }

  // --- sending ----------------------------------------------------------------------------

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function settle(ref, message) {
    var entry = pending.get(ref);
    if (entry) {
      clearTimeout(entry.timer);
      pending.delete(ref);
    }
    if (message) addMessages([message], { stick: true });
  }

  function failed(ref, text) {
    var entry = ref ? pending.get(ref) : null;
    if (entry) {
      clearTimeout(entry.timer);
      pending.delete(ref);
      if (input && !input.value.trim()) input.value = entry.body;
    }
    showError(text);
  }

  function sendViaApi(ref, entry) {
    var payload = { body: entry.body, client_id: entry.clientId };
    if (entry.replyTo) payload.reply_to = entry.replyTo;
    api("POST", config.endpoints.messages, payload)
      .then(function (data) { settle(ref, data && data.message ? data.message : data); })
      .catch(function (error) { failed(ref, error.message); });
  }

  function send() {
    var body = input.value.trim();
    if (!body) return;
    if (body.length > config.maxLength) {
      showError(fmt(S.tooLong, { n: body.length, limit: config.maxLength }));
      return;
    }
    clearError();
    var ref = newId();
    var entry = { body: body, clientId: newId(), replyTo: replyTo ? replyTo.id : null, timer: null };
    pending.set(ref, entry);
    input.value = "";
    autosize();
    setReply(null);
    var frame = { type: "message.send", group_id: groupId, body: body, client_id: entry.clientId, ref: ref };
    if (entry.replyTo) frame.reply_to = entry.replyTo;
    if (sendFrame(frame)) {
      // No acknowledgement in time: retry over HTTP; the client_id makes it idempotent.
      entry.timer = setTimeout(function () {
        if (pending.has(ref)) sendViaApi(ref, entry);
      }, 8000);
    } else {
      sendViaApi(ref, entry);
    }
  }

  function autosize() {
    if (!input) return;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 200) + "px";
  }

  function setReply(message) {
    replyTo = message;
    if (!replyPreview) return;
    if (!message) {
      replyPreview.classList.add("hidden");
      replyText.textContent = "";
      return;
    }
    var name = message.author ? message.author.name : S.unknown;
    replyText.textContent = fmt(S.replyingTo, { name: name }) + ": " + message.body.slice(0, 80);
    replyPreview.classList.remove("hidden");
    input.focus();
  }

  if (composer) {
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      send();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send();
      }
    });
    input.addEventListener("input", function () {
      autosize();
      if (errorNode && !errorNode.classList.contains("hidden") && input.value) clearError();
    });
    document.getElementById("reply-cancel").addEventListener("click", function () { setReply(null); });
  }

  // --- message tools ----------------------------------------------------------------------

  function startEdit(li, message) {
    var html = li.querySelector(".msg-html");
    var tools = li.querySelector(".msg-tools");
    if (!html || li.querySelector(".msg-edit")) return;
    var form = el("form", "msg-edit");
    var area = el("textarea");
    area.value = message.body;
    area.rows = Math.min(8, message.body.split("\n").length + 1);
    var save = el("button", "button small primary", S.save);
    save.type = "submit";
    var cancel = el("button", "button small ghost", S.cancel);
    cancel.type = "button";
    form.append(area, save, cancel);
    html.classList.add("hidden");
    tools.classList.add("hidden");
    html.after(form);
    area.focus();
    var close = function () {
      form.remove();
      html.classList.remove("hidden");
      tools.classList.remove("hidden");
    };
    cancel.addEventListener("click", close);
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = area.value.trim();
      if (!body || body === message.body) return close();
      api("PATCH", endpoint("message", message.id), { body: body })
        .then(function (data) {
          var updated = data && data.message ? data.message : data;
          if (updated && updated.id) addMessages([updated], { stick: false });
          else close();
        })
        .catch(function (error) { showError(error.message); });
    });
  }

  listNode.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var li = button.closest(".msg");
    var message = messages.get(Number(li.getAttribute("data-id")));
    if (!message) return;
    var action = button.getAttribute("data-action");
    clearError();
    if (action === "reply") {
      setReply(message);
    } else if (action === "edit") {
      startEdit(li, message);
    } else if (action === "delete") {
      if (!window.confirm(S.confirmDelete)) return;
      api("DELETE", endpoint("message", message.id))
        .then(function () { patchMessage(message.id, { deleted: true, pinned: false, html: "", body: "" }); })
        .catch(function (error) { showError(error.message); });
    } else if (action === "report") {
      if (!window.confirm(MOD.strings.confirmReport)) return;
      api("POST", MOD.reportUrl, { kind: "message", object_id: message.id, reason: "" })
        .then(function () {
          button.disabled = true;
          button.textContent = MOD.strings.reported;
        })
        .catch(function (error) { showError(error.message); });
    } else if (action === "pin" || action === "unpin") {
      api(action === "pin" ? "POST" : "DELETE", endpoint("pin", message.id))
        .then(function () { patchMessage(message.id, { pinned: action === "pin" }); })
        .catch(function (error) { showError(error.message); });
    }
  });

  // --- history ----------------------------------------------------------------------------

  function loadEarlier() {
    if (firstId === null) return;
    loadEarlierButton.disabled = true;
    var before = scroller.scrollHeight - scroller.scrollTop;
    api("GET", config.endpoints.messages + "?before=" + firstId + "&limit=50")
      .then(function (data) {
        var page = pageOf(data);
        hasMore = page.more;
        addMessages(page.items, { stick: false });
        scroller.scrollTop = scroller.scrollHeight - before;
      })
      .catch(function (error) { showError(error.message); })
      .then(function () {
        loadEarlierButton.disabled = false;
        loadEarlierButton.classList.toggle("hidden", !hasMore);
      });
  }

  loadEarlierButton.addEventListener("click", loadEarlier);

  // --- start ------------------------------------------------------------------------------

  (config.pinned || []).forEach(function (item) { pinned.set(item.id, item); });
  addMessages(initial, { stick: true });
  loadEarlierButton.classList.toggle("hidden", !hasMore);
  renderPinned();
  // Timestamps say "today" or a date: refresh them now and then.
  setInterval(function () {
    listNode.querySelectorAll("time.msg-time").forEach(function (node) {
      node.textContent = formatTime(node.getAttribute("datetime"));
    });
  }, 60000);
  connect();
  // A small handle for debugging and the browser tests: the socket state, and dropping it
  // on purpose to exercise reconnect + catch-up.
  window.quanziChat = {
    state: function () { return socket ? socket.readyState : -1; },
    drop: function () { if (socket) socket.close(); },
  };
})();
