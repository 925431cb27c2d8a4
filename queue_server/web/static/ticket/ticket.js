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

  function now() {  // the hall's time zone, whatever the phone's setting
    try {
      return new Intl.DateTimeFormat("en-GB", { timeZone: data.timezone, hour: "2-digit", minute: "2-digit",
        second: "2-digit", hour12: false }).format(new Date());
    } catch (e) {
      return new Date().toTimeString().slice(0, 8);
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

  var button = $("enable-alerts");
  if (window.AudioContext || window.webkitAudioContext || navigator.vibrate) {
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
