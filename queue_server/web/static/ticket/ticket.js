/* The ticket's phone page: follow the queue, alert when the turn is near and when called.
 *
 * Polls GET /api/v1/tickets/<id> (the server answers 304 while nothing changed); a few
 * seconds apart near the front, less often further back; stops when the ticket has ended.
 * Alerts: a visible banner (always), a vibration and a short tone made with WebAudio
 * (browsers allow sound and vibration only after the resident touched the page: the
 * "turn on" button is that touch). describe() mirrors queue_server/web/ticket_page.py.
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("ticket-data").textContent);
  var T = data.texts;
  var ENDED = { done: 1, cancelled: 1, expired: 1 };
  var TONES = { near: [660, 880], called: [784, 659, 784, 659] };
  var BUZZ = { near: [200, 100, 200], called: [400, 150, 400, 150, 400] };
  var s = { view: data.ticket, failures: 0, audio: null, last: null, timer: null };
  var hook = window.hallqTicket = { alerts: [], polls: 0 };

  function $(id) { return document.getElementById(id); }

  function fmt(text, vars) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] === undefined || vars[k] === null ? "" : vars[k]; });
  }

  function shown(m, range) {  // mirrors hallq/waits.py: a range where it is wide, else one number
    if (m === null || m === undefined) return null;
    if (range && range[1] - range[0] > data.wide) return [range[0], range[1]];
    return [m, m];
  }

  function describe(v) {
    var ahead = v.people_ahead, w = v.window;
    if (v.state === "waiting") {
      var est = shown(v.est_wait_minutes, v.est_wait_range);
      return {
        head: ahead ? fmt(T.ahead, { n: ahead }) : T.ahead_none,
        detail: est === null ? T.wait_unknown
          : est[0] === est[1] ? fmt(T.wait, { m: est[0] }) : fmt(T.wait_range, { lo: est[0], hi: est[1] }),
        level: ahead !== null && ahead <= data.near ? "near" : "wait"
      };
    }
    if (v.state === "called") {
      return { head: fmt(T.called, { w: w }), detail: fmt(T.called_detail, { t: v.ticket }), level: "called" };
    }
    if (v.state === "serving" || v.state === "held") return { head: fmt(T[v.state], { w: w }), detail: "", level: v.state };
    if (v.state === "no_show") return { head: T.no_show, detail: fmt(T.no_show_detail, { g: data.grace }), level: "ended" };
    return { head: T[v.state] || v.state, detail: "", level: "ended" };
  }

  // the hall's clock, not the phone's: where the server stood when the page loaded, moved on at its pace
  // (a demo or a simulation runs a virtual clock; the ticket's own times are in it)
  var loadedAt = Date.now(), hallAtLoad = Date.parse(data.now);
  function hallNow() {
    if (isNaN(hallAtLoad)) return new Date();
    return new Date(hallAtLoad + (Date.now() - loadedAt) * (data.rate === undefined ? 1 : data.rate));
  }

  function now() {  // the hall's time zone, whatever the phone's setting
    try {
      return new Intl.DateTimeFormat("en-GB", { timeZone: data.timezone, hour: "2-digit", minute: "2-digit",
        second: "2-digit", hour12: false }).format(hallNow());
    } catch (e) {
      return hallNow().toTimeString().slice(0, 8);
    }
  }

  function tone(freqs) {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      var ctx = s.audio || (s.audio = new Ctx());
      if (ctx.state === "suspended") ctx.resume();
      var t = ctx.currentTime + 0.03;
      freqs.forEach(function (f) {
        var osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.type = "sine";
        osc.frequency.value = f;
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.5, t + 0.03);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.32);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(t);
        osc.stop(t + 0.35);
        t += 0.4;
      });
    } catch (e) { /* no sound on this phone: the banner and the vibration remain */ }
  }

  function alertResident(kind) {
    hook.alerts.push(kind);
    if (navigator.vibrate) {
      try { navigator.vibrate(BUZZ[kind]); } catch (e) { /* not allowed yet */ }
    }
    tone(TONES[kind]);
  }

  function render(v) {
    var d = describe(v), banner = $("banner");
    $("head").textContent = d.head;
    $("detail").textContent = d.detail;
    document.body.className = "level-" + d.level;
    banner.hidden = d.level !== "near" && d.level !== "called";
    banner.textContent = d.level === "called" ? d.head : T.near;
    document.title = v.ticket + " · " + d.head;
    $("updated").textContent = fmt(T.updated, { time: now() });
    var ended = d.level === "ended";
    if (ended) { button.hidden = true; $("alerts-on").hidden = true; } else if (canAlert && $("alerts-on").hidden) button.hidden = false;
    $("leave").hidden = v.state !== "waiting";
    $("rate").hidden = v.state !== "done" || rating.done;
    $("rated").hidden = v.state !== "done" || !rating.done;
    // alert once per event: entering "near", and every call or recall (a new call time)
    var key = d.level === "called" ? "called " + v.called_at + " " + v.calls : d.level === "near" ? "near" : null;
    if (key && key !== s.last) alertResident(d.level);
    s.last = key;
  }

  function schedule() {
    clearTimeout(s.timer);
    var v = s.view, ms = 4000;
    if (ENDED[v.state]) return;
    if (s.failures) ms = Math.min(30000, 3000 * Math.pow(2, s.failures - 1));
    else if (v.state === "no_show") ms = 15000;
    else if (v.state === "waiting" && v.people_ahead > 5) ms = 10000;
    s.timer = setTimeout(poll, ms);
  }

  function poll() {
    clearTimeout(s.timer);
    hook.polls += 1;
    fetch(data.api, { cache: "no-cache", credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 404) {
          $("head").textContent = T.gone;
          $("detail").textContent = T.gone_detail;
          s.view = { state: "expired" };
          return null;
        }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (v) {
        s.failures = 0;
        $("offline").hidden = true;
        if (ENDED[s.view.state] && !(v && ENDED[v.state])) return;  // a poll sent before the number was given up
        if (v) {
          s.view = v;
          render(v);
        }
        schedule();
      })
      .catch(function () {
        s.failures += 1;
        $("offline").hidden = false;
        schedule();
      });
  }

  // 扫码评价: a finished service is rated from this page, once (POST /api/v1/ratings with the ticket's public id)
  var rating = { done: !!data.rated, level: null, pending: false };
  function rateProblem(text) { $("rate-problem").textContent = text || ""; $("rate-problem").hidden = !text; }
  function sendRating(reasons, comment) {
    if (rating.pending) return;
    rating.pending = true;
    var body = { ticket: data.id, level: rating.level, reasons: reasons };
    if (comment) body.comment = comment;
    // a phone for the call-back (回访), bad reviews only; the server keeps it only with the consent ticked
    var phone = rating.level <= 2 ? $("rate-phone").value.trim() : "";
    if (phone) { body.contact = phone; body.contact_consent = $("rate-consent").checked; }
    var key = Array.from(crypto.getRandomValues(new Uint8Array(12)), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    fetch(data.rate_api, { method: "POST", credentials: "omit", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": data.lang, "Idempotency-Key": key } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, json: j }; }); })
      .then(function (res) {
        rating.pending = false;
        if (res.ok || (res.json.error && res.json.error.code === "already_rated")) {
          rating.done = true;
          $("rated").textContent = res.ok ? T.thanks : T.already_rated;
          rateProblem("");
          render(s.view);
          $("rated").focus();
        } else rateProblem(res.json.error ? res.json.error.message : "");
      })
      .catch(function () { rating.pending = false; rateProblem(T.offline); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("#rate-faces button"), function (b) {
    b.addEventListener("click", function () {
      rating.level = parseInt(b.getAttribute("data-level"), 10);
      Array.prototype.forEach.call(document.querySelectorAll("#rate-faces button"), function (x) {
        x.setAttribute("aria-pressed", x === b ? "true" : "false");
      });
      if (rating.level <= 2) { $("rate-why").hidden = false; $("rate-why").querySelector("input").focus(); }
      else sendRating([], "");
    });
  });
  $("rate-phone").addEventListener("input", function () { $("rate-consent-box").hidden = !$("rate-phone").value.trim(); });
  var other = document.querySelector('#rate-why input[value="other"]');
  if (other) other.addEventListener("change", function () { $("rate-other").hidden = !other.checked; });
  $("rate-send").addEventListener("click", function () {
    var reasons = Array.prototype.map.call(document.querySelectorAll("#rate-why input:checked"), function (i) { return i.value; });
    sendRating(reasons, reasons.indexOf("other") >= 0 ? $("rate-comment").value.trim() : "");
  });
  $("rated").setAttribute("tabindex", "-1");

  // 弃号: a resident who is leaving gives the number up from here (two taps: "不办了" then "确定"), so the clerk
  // does not call them twice and mark them missed (POST /api/v1/tickets/<id>/cancel with the ticket's public id)
  function leaveProblem(text) { $("leave-problem").textContent = text || ""; $("leave-problem").hidden = !text; }
  $("leave-ask").addEventListener("click", function () { $("leave-confirm").hidden = false; $("leave-ask").hidden = true; });
  $("leave-no").addEventListener("click", function () { $("leave-confirm").hidden = true; $("leave-ask").hidden = false; });
  $("leave-yes").addEventListener("click", function () {
    $("leave-yes").disabled = true;
    fetch(data.cancel_api, { method: "POST", credentials: "omit", body: "{}",
      headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": data.lang } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, json: j }; }); })
      .then(function (res) {
        $("leave-yes").disabled = false;
        if (res.ok) {  // ended: no poll may come back with an older view (nor replace the thanks)
          clearTimeout(s.timer); leaveProblem(""); s.view = res.json; render(res.json); $("head").textContent = T.left;
        }
        else leaveProblem(res.json.error ? res.json.error.message : "");
      })
      .catch(function () { $("leave-yes").disabled = false; leaveProblem(T.offline); });
  });

  var button = $("enable-alerts");
  var canAlert = !!(window.AudioContext || window.webkitAudioContext || navigator.vibrate);
  if (canAlert) {
    button.hidden = false;
    button.addEventListener("click", function () {
      tone([880]);  // created inside the touch: the browser lets this page make sounds from now on
      if (navigator.vibrate) navigator.vibrate(60);
      button.hidden = true;
      $("alerts-on").hidden = false;
    });
  }
  document.addEventListener("visibilitychange", function () { if (!document.hidden && !ENDED[s.view.state]) poll(); });
  render(s.view);
  schedule();
})();
