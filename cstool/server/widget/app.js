/* cstool customer widget: plain JavaScript, no build step.
 *
 * The customer's token comes in the URL fragment (#token=...), is kept in
 * sessionStorage and removed from the address bar. Messages go to
 * POST /v1/shops/{shop}/messages; the transcript comes from /v1/conversations; new
 * messages arrive over the event stream GET /v1/events (read with fetch so the token
 * travels in a header), which resumes with Last-Event-ID; polling takes over if the
 * stream cannot be held. Pictures (picked with 图片 or pasted into the box), PDFs and
 * short videos go to POST /v1/shops/{shop}/files as base64; a file in the chat is drawn
 * from a signed link that expires (GET .../files/{message}/link), never by a path.
 */
(function () {
  "use strict";

  var app = document.getElementById("app");
  var shop = app.getAttribute("data-shop");
  var els = {
    messages: document.getElementById("messages"),
    status: document.getElementById("status"),
    input: document.getElementById("input"),
    send: document.getElementById("send"),
    human: document.getElementById("human"),
    attach: document.getElementById("attach"),
    file: document.getElementById("file"),
    notice: document.getElementById("notice"),
    rating: document.getElementById("rating"),
    ratingSend: document.getElementById("rating-send"),
    ratingComment: document.getElementById("rating-comment"),
  };
  var state = {
    token: null,
    conversation: null,   // the current conversation (customer view)
    rendered: {},         // message id -> true
    lastEventId: null,
    score: 0,
    refreshing: false,
    again: false,
  };

  // -- the token -------------------------------------------------------------------------
  function takeToken() {
    var key = "cstool-token-" + shop;
    var m = /(?:^|[#&])token=([^&]+)/.exec(location.hash || "");
    if (m) {
      sessionStorage.setItem(key, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(key);
  }

  // -- the API ---------------------------------------------------------------------------
  function api(method, path, body) {
    var opts = { method: method, headers: { "Authorization": "Bearer " + state.token } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (res) {
      if (res.status === 204) return null;
      return res.json().then(function (data) {
        if (!res.ok) {
          var err = new Error((data && data.error && data.error.message) || ("HTTP " + res.status));
          err.status = res.status;
          err.key = data && data.error && (data.error.key || data.error.code);
          throw err;
        }
        return data;
      });
    });
  }

  function notice(text) {
    els.notice.textContent = text;
    els.notice.hidden = !text;
  }

  // -- drawing ---------------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function yuan(v) {
    if (v === undefined || v === null || v === "") return "";
    var n = Number(v);
    return "¥" + (isNaN(n) ? v : n.toFixed(2).replace(/\.00$/, ""));
  }

  function timeOf(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  function card(m) {
    var p = m.payload || {};
    var c = el("div", "card card-" + m.kind);
    if (m.kind === "product" && Array.isArray(p.products) && p.products.length) {
      // the bot's recommendations: each product with its price after discounts
      c.appendChild(el("div", "card-tag", "为您推荐"));
      p.products.forEach(function (x, i) {
        c.appendChild(el("div", "card-title", (i + 1) + ". " + (x.title || x.product)));
        var row = el("div", "card-line");
        row.appendChild(el("span", "price", yuan(x.price_after_discount)));
        if (x.price !== x.price_after_discount) row.appendChild(el("s", "muted", yuan(x.price)));
        c.appendChild(row);
      });
    } else if (m.kind === "product") {
      c.appendChild(el("div", "card-tag", "商品"));
      c.appendChild(el("div", "card-title", p.title || m.body));
      var line = el("div", "card-line");
      line.appendChild(el("span", "price", yuan(p.price)));
      if (p.stock !== undefined && p.stock !== null) line.appendChild(el("span", "muted", "库存 " + p.stock));
      c.appendChild(line);
    } else if (m.kind === "coupon") {
      c.appendChild(el("div", "card-tag", "优惠券"));
      c.appendChild(el("div", "card-title", p.name || m.body));
      var what = p.kind === "discount" && p.rate ? (Math.round(p.rate * 100) / 10 + " 折")
        : (yuan(p.amount) + (Number(p.threshold) ? "（满" + yuan(p.threshold) + "可用）" : ""));
      c.appendChild(el("div", "card-line price", what));
      if (p.valid_to) c.appendChild(el("div", "muted", "有效期至 " + p.valid_to.slice(0, 10)));
      c.appendChild(el("div", "muted", "已放入您的账户"));
    } else {  // invitation (邀请下单) and order cards
      var item = p.item || {};
      c.appendChild(el("div", "card-tag", m.kind === "invitation" ? "邀请下单" : "订单"));
      c.appendChild(el("div", "card-title", (item.title || p.title || p.name || m.body) +
        (p.quantity > 1 ? " ×" + p.quantity : "")));
      var total = p.total !== undefined ? p.total : p.price;
      var priceLine = el("div", "card-line");
      if (total !== undefined) priceLine.appendChild(el("span", "price", yuan(total)));
      if (Number(p.saving) > 0 && p.subtotal) priceLine.appendChild(el("s", "muted", yuan(p.subtotal)));
      c.appendChild(priceLine);
      if (Number(p.saving) > 0) c.appendChild(el("div", "muted", "已为您节省 " + yuan(p.saving)));
      if (p.coupon && p.coupon.name) c.appendChild(el("div", "muted", "用券：" + p.coupon.name));
      if (m.kind === "invitation") {
        var go = el("button", "primary small", "立即下单");
        go.type = "button";
        go.addEventListener("click", function () { notice("已为您打开下单页（演示）"); });
        c.appendChild(go);
      }
    }
    return c;
  }

  function sizeText(n) {
    if (typeof n !== "number") return "";
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return Math.round(n / 1024) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  // a file of the chat: an image as a thumbnail, others as a link, both by a signed link
  function fileBox(m) {
    var p = m.payload || {};
    var box = el("div", "file file-" + (p.category || "other"));
    var label = (p.category === "image" ? "图片" : p.category === "video" ? "视频" : "文件") +
      " " + (p.name || "") + " " + sizeText(p.bytes);
    var link = el("a", "file-link", label);
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    var thumb = null;
    if (p.category === "image") {
      thumb = el("img", "thumb");
      thumb.alt = p.name || "图片";
      link.textContent = "";
      link.appendChild(thumb);
      box.appendChild(link);
      box.appendChild(el("div", "muted", label));
    } else {
      box.appendChild(link);
    }
    api("GET", "/v1/conversations/" + m.conversation + "/files/" + m.id + "/link")
      .then(function (l) {
        link.href = l.url;
        if (thumb) thumb.src = l.url;
      })
      .catch(function () { box.appendChild(el("div", "muted", "文件暂时无法打开")); });
    return box;
  }

  function drawMessage(m) {
    if (state.rendered[m.id]) return;
    state.rendered[m.id] = true;
    var row;
    if (m.sender === "system") {
      row = el("div", "msg system", m.body);
      if (m.kind === "survey") row.classList.add("survey");
    } else {
      row = el("div", "msg " + m.sender);
      var who = m.sender === "customer" ? "我" : m.sender === "bot" ? "智能助手" : "客服";
      row.appendChild(el("div", "who", who + " " + timeOf(m.at)));
      if (m.kind === "product" || m.kind === "coupon" || m.kind === "invitation" || m.kind === "order") {
        row.appendChild(card(m));
      } else if (m.kind === "file") {
        row.appendChild(fileBox(m));
      } else {
        row.appendChild(el("div", "bubble", m.body));
      }
      // only the options the bot put in its text ("did you mean" questions, a flow's
      // products); payload.choices are entry keys for the desk, never shown to customers
      var choices = m.sender === "bot" && m.payload && m.payload.options;
      if (choices && choices.length) {
        var box = el("div", "choices");
        box.appendChild(el("div", "muted", m.payload.action === "suggest" ? "您是不是想问：" : "点选即可："));
        choices.forEach(function (choice, i) {
          // the knowledge bot's options are picked by number (回复序号); plain texts as they are
          var plain = typeof choice === "string";
          var text = plain ? choice : (choice.question || choice.label || choice.text || String(i + 1));
          var b = el("button", "chip", text);
          b.type = "button";
          b.addEventListener("click", function () { post(plain ? text : String(i + 1)); });
          box.appendChild(b);
        });
        row.appendChild(box);
      }
    }
    row.setAttribute("data-id", m.id);
    els.messages.appendChild(row);
    els.messages.scrollTop = els.messages.scrollHeight;
  }

  function drawStatus(c) {
    var text = "您好，请问有什么可以帮您？";
    if (c) {
      if (c.state === "queued") {
        text = "排队中：第 " + (c.queue_position || "?") + " 位" +
          (c.estimated_wait_s ? "，预计等待约 " + Math.max(1, Math.round(c.estimated_wait_s / 60)) + " 分钟" : "");
      } else if (c.state === "active") {
        text = "人工客服为您服务中";
      } else if (c.state === "bot") {
        text = "智能助手为您服务，输入“转人工”可联系人工客服";
      } else if (c.state === "closed") {
        text = c.rating ? "会话已结束，感谢您的评价（" + c.rating + " 分）" : "会话已结束";
      }
    }
    els.status.textContent = text;
    els.status.setAttribute("data-state", c ? c.state : "none");
    els.rating.hidden = !(c && c.state === "closed" && !c.rating);
  }

  // -- reading ---------------------------------------------------------------------------
  function refresh() {
    if (state.refreshing) { state.again = true; return Promise.resolve(); }
    state.refreshing = true;
    var p = state.conversation
      ? Promise.resolve(state.conversation.id)
      : api("GET", "/v1/conversations?limit=1").then(function (page) {
          return page.items.length ? page.items[0].id : null;
        });
    return p.then(function (id) {
      if (id === null) { drawStatus(null); return; }
      return api("GET", "/v1/conversations/" + id).then(function (c) {
        state.conversation = c;
        c.messages.forEach(drawMessage);
        drawStatus(c);
      });
    }).catch(function (e) {
      notice(e.status === 401 ? "登录已失效，请从商家页面重新进入客服" : "网络不太稳定：" + e.message);
    }).then(function () {
      state.refreshing = false;
      if (state.again) { state.again = false; return refresh(); }
    });
  }

  // -- writing ---------------------------------------------------------------------------
  function clientId() {
    return "w-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function post(text) {
    text = (text || "").trim();
    if (!text) return Promise.resolve();
    els.send.disabled = true;
    var body = { text: text, client_id: clientId(), channel: "web" };
    var attempt = function (n) {
      return api("POST", "/v1/shops/" + encodeURIComponent(shop) + "/messages", body)
        .catch(function (e) {
          if (!e.status && n < 3) return attempt(n + 1);  // network: retry, stored once
          throw e;
        });
    };
    return attempt(1).then(function (r) {
      notice("");
      if (!state.conversation || state.conversation.id !== r.conversation.id) {
        state.conversation = r.conversation;
      }
      drawMessage(r.message);
      r.replies.forEach(drawMessage);
      drawStatus(r.conversation);
      return refresh();
    }).catch(function (e) {
      notice("发送失败：" + e.message);
      els.input.value = els.input.value || text;
    }).then(function () { els.send.disabled = false; });
  }

  var FILE_REFUSALS = {
    file_type_refused: "只能发送图片（JPEG、PNG、WebP、GIF）、PDF 或 MP4 视频（按文件内容判断）",
    chat_file_too_large: "文件太大，请压缩后再发",
    too_large: "文件太大，请压缩后再发",
    file_broken: "文件已损坏，无法发送",
  };

  function sendFile(f) {
    if (!f) return Promise.resolve();
    els.attach.disabled = true;
    notice("正在发送 " + (f.name || "图片") + "…");
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(new Error("读取文件失败")); };
      reader.readAsDataURL(f);
    }).then(function (data) {
      var body = { name: f.name || "粘贴的图片.png", data: data, client_id: clientId(),
                   channel: "web" };
      return api("POST", "/v1/shops/" + encodeURIComponent(shop) + "/files", body);
    }).then(function (r) {
      notice("");
      if (!state.conversation || state.conversation.id !== r.conversation.id) {
        state.conversation = r.conversation;
      }
      drawMessage(r.message);
      r.replies.forEach(drawMessage);
      drawStatus(r.conversation);
      return refresh();
    }).catch(function (e) {
      notice("发送失败：" + (FILE_REFUSALS[e.key] || e.message));
    }).then(function () { els.attach.disabled = false; els.file.value = ""; });
  }

  function sendInput() {
    var text = els.input.value;
    els.input.value = "";
    post(text);
  }

  function rate() {
    if (!state.conversation || !state.score) return;
    var body = { rating: state.score };
    var comment = els.ratingComment.value.trim();
    if (comment) body.comment = comment;
    els.ratingSend.disabled = true;
    api("POST", "/v1/conversations/" + state.conversation.id + "/rating", body)
      .then(function (c) { notice("感谢您的评价！"); state.conversation = c; drawStatus(c); return refresh(); })
      .catch(function (e) { notice("评价失败：" + e.message); els.ratingSend.disabled = false; });
  }

  // -- live updates ----------------------------------------------------------------------
  function listen() {
    var headers = { "Authorization": "Bearer " + state.token, "Accept": "text/event-stream" };
    if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
    fetch("/v1/events", { headers: headers }).then(function (res) {
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      app.setAttribute("data-live", "sse");
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      refresh();  // the stream is open: anything before it is in the transcript now
      var pump = function () {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error("stream ended");
          buffer += decoder.decode(chunk.value, { stream: true });
          var parts = buffer.split("\n\n");
          buffer = parts.pop();
          parts.forEach(handleBlock);
          return pump();
        });
      };
      return pump();
    }).catch(function () {
      app.setAttribute("data-live", "poll");
      setTimeout(listen, 2000);  // resume with Last-Event-ID; polling covers the gap
    });
  }

  function handleBlock(block) {
    var id = null, type = null, data = null;
    block.split("\n").forEach(function (line) {
      if (line.indexOf("id: ") === 0) id = line.slice(4);
      else if (line.indexOf("event: ") === 0) type = line.slice(7);
      else if (line.indexOf("data: ") === 0) data = line.slice(6);
    });
    if (id) state.lastEventId = id;
    if (!type || !data) return;
    var e = JSON.parse(data);
    if (state.conversation && String(state.conversation.id) !== e.key && type !== "conversation.created") return;
    if (type === "conversation.created") state.conversation = null;
    refresh();
  }

  // -- wiring ----------------------------------------------------------------------------
  function init() {
    state.token = takeToken();
    if (!state.token) {
      els.status.textContent = "请从商家页面进入客服（缺少访问令牌）";
      els.send.disabled = true;
      els.human.disabled = true;
      els.attach.disabled = true;
      return;
    }
    els.send.addEventListener("click", sendInput);
    els.human.addEventListener("click", function () { post("转人工"); });
    els.attach.addEventListener("click", function () { els.file.click(); });
    els.file.addEventListener("change", function () { sendFile(els.file.files[0]); });
    els.input.addEventListener("paste", function (e) {
      var items = (e.clipboardData && e.clipboardData.files) || [];
      if (items.length && /^image\//.test(items[0].type)) { e.preventDefault(); sendFile(items[0]); }
    });
    els.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendInput(); }
    });
    Array.prototype.forEach.call(els.rating.querySelectorAll("[data-score]"), function (b) {
      b.addEventListener("click", function () {
        state.score = Number(b.getAttribute("data-score"));
        Array.prototype.forEach.call(els.rating.querySelectorAll("[data-score]"), function (o) {
          o.classList.toggle("on", Number(o.getAttribute("data-score")) <= state.score);
        });
        els.ratingSend.disabled = false;
      });
    });
    els.ratingSend.addEventListener("click", rate);
    refresh().then(listen);
    setInterval(function () { if (app.getAttribute("data-live") !== "sse") refresh(); }, 5000);
  }

  init();
})();
