// lifecert kiosk / phone page: one thing per screen, Chinese first, no external requests.
"use strict";

const $ = (id) => document.getElementById(id);
// Timings a deployment (or a test) may change before this script runs: window.lifecertConfig.
const CONFIG = Object.assign({
  idleMs: 90000, idleWarnMs: 20000,       // shared devices: back to the start, details wiped
  previewMs: 900, heartbeatMs: 2000,      // live advice; "is the service still there" while recording
  uploadSlowMs: 12000, uploadTimeoutMs: 90000, slowHintMs: 8000,
  planMaxMs: 6000, lockoutBurst: 5,       // api/certification/lockouts.py PERSON_BURST
  countMs: 800, countElderMs: 1100,       // each step of the 3-2-1 before recording
  // The live, guided capture (api/http/routers/live.py): the camera streams to the service,
  // which prompts and confirms. "auto": on hall kiosks and counters (the hall's own network
  // carries ~1 MB/s of frames), the recorded upload on phones, whose uplink nobody measured;
  // true or false for every device. The recorded upload stays the fallback everywhere.
  live: "auto", liveFps: 25, liveWidth: 640, liveInFlight: 10,
}, window.lifecertConfig || {});
const state = { lang: "zh", key: null, deviceKey: null, role: null, deviceRole: null, staffMode: false, elder: false,
                person: null, idNumber: "", name: "", proxyId: null, savedProxy: null, failures: 0, failuresFor: "",
                stream: null, previewTimer: null, previewing: false, okStreak: 0, lastAdvice: "", lastAdviceAt: 0,
                run: null, busy: false, reader: false, retry: null, liveBroken: false };
const shared = () => state.deviceRole !== "app";  // a hall kiosk or a counter: the next person is a stranger

// ---- language: every text on screen carries both languages, so a switch redoes all -----
function t(zh, en) { return state.lang === "zh" ? zh : en; }
function put(el, zh, en) {
  el.dataset.zh = zh; el.dataset.en = en === undefined ? zh : en;
  el.textContent = el.dataset[state.lang];
  return el;
}
function wipe(el) { delete el.dataset.zh; delete el.dataset.en; el.textContent = ""; }
function make(tag, cls, zh, en) { const el = document.createElement(tag); if (cls) el.className = cls; return zh === undefined ? el : put(el, zh, en); }
function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-zh]").forEach((el) => { el.textContent = el.dataset[state.lang]; });
  $("lang").textContent = state.lang === "zh" ? "English" : "中文";
  $("lang").lang = state.lang === "zh" ? "en" : "zh-CN";
}
$("lang").addEventListener("click", () => { state.lang = state.lang === "zh" ? "en" : "zh"; applyLanguage(); });

// ---- elder mode (长辈模式): larger type, slower pace, advice repeated aloud ----------------
function setElder(on, remember) {
  state.elder = on;
  document.documentElement.classList.toggle("elder", on);
  $("elder").setAttribute("aria-pressed", String(on));
  if (remember) localStorage.setItem("lifecert-elder", on ? "1" : "0");
}
$("elder").addEventListener("click", () => setElder(!state.elder, true));

// ---- steps: focus goes to the new step's heading, so a screen reader says where we are ---
function show(step) {
  document.querySelectorAll(".step").forEach((s) => { s.hidden = s.id !== "step-" + step; });
  document.body.dataset.step = step;
  window.scrollTo(0, 0);
  const heading = document.querySelector(`#step-${step} h2`);
  if (heading) heading.focus({ preventScroll: true });
  touch();
}
const step = () => document.body.dataset.step;

// ---- the service ----------------------------------------------------------------------
class ServiceError extends Error { constructor(problem) { super(problem.code); this.problem = problem; } }
class Cancelled extends Error {}
class LiveUnavailable extends Error {}  // the live socket closed before the service answered: upload instead
class LiveFull extends LiveUnavailable {}  // every live place on the service is taken: upload this time
const DOWN = { code: "service_unavailable", message_zh: "服务暂时不可用，请稍后再试，或前往社区服务中心、社保经办窗口办理。",
               message_en: "The service is not available right now. Please try again later, or go to your community service centre or social-insurance counter." };

async function call(method, path, body, opts = {}) {
  const form = body instanceof FormData;
  const headers = { "X-API-Key": opts.key || state.key };
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, signal: opts.signal,
                                   body: body === undefined || form ? body : JSON.stringify(body) });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ServiceError(DOWN);
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) throw new ServiceError(data && data.code ? data : DOWN);
  return data;
}
// One tap, one request: the button is off until the answer comes.
function guard(button, fn) {
  button.addEventListener("click", async () => {
    if (state.busy) return;
    state.busy = true; button.disabled = true;
    try { await fn(); } finally { state.busy = false; button.disabled = false; }
  });
}

// ---- device set-up and staff mode: a key is checked before it is kept -------------------
async function checkKey(key, role) {
  try {
    const me = await call("GET", "/v1/whoami", undefined, { key });
    // An administrator's key manages the service; it is never typed into a shared kiosk.
    if (role && me.role === "admin") return { code: "admin_key" };
    return role && me.role !== role ? { code: "wrong_role" } : me;
  } catch (e) { return e.problem || DOWN; }
}
function keyError(el, got) {
  if (got.code === "service_unavailable") put(el, "无法连接服务，密钥未保存，请稍后再试。", "The service cannot be reached: the key was not saved. Try again later.");
  else if (got.code === "wrong_role") put(el, "这不是工作人员密钥。", "That is not a staff key.");
  else if (got.code === "admin_key") put(el, "这是管理员密钥，不能在公用设备上使用。请用工作人员密钥登录。",
    "That is an administrator key, which is never used on a shared device. Sign in with a staff key.");
  else put(el, "密钥不正确，未保存。请核对后重新输入。", "That key is not valid and was not saved. Check it and type it again.");
}

async function start() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromLink) {
    history.replaceState(null, "", location.pathname);
    const got = await checkKey(fromLink.trim());
    if (!got.role) { keyError($("setup-error"), got); show("setup"); return; }
    localStorage.setItem("lifecert-key", fromLink.trim());
  }
  state.deviceKey = localStorage.getItem("lifecert-key");
  if (!state.deviceKey) { show("setup"); return; }
  const device = await checkKey(state.deviceKey);
  if (!device.role) {
    if (device.code === "unauthenticated") { keyError($("setup-error"), device); show("setup"); return; }
    showProblem(device, null);
    return;
  }
  state.deviceRole = device.role;
  const staffKey = sessionStorage.getItem("lifecert-staff-key");
  state.staffMode = false; state.key = state.deviceKey; state.role = device.role;
  if (staffKey && (await checkKey(staffKey, "staff")).role) {
    state.staffMode = state.deviceRole !== "staff"; state.key = staffKey; state.role = "staff";
  } else sessionStorage.removeItem("lifecert-staff-key");
  const elder = localStorage.getItem("lifecert-elder");
  setElder(elder === null ? state.deviceRole === "kiosk" : elder === "1", false);
  $("staff-badge").hidden = !state.staffMode;
  $("staff-mode").hidden = state.role === "staff" || state.deviceRole === "app";
  $("home-visit-row").hidden = state.role !== "staff";
  $("remember-row").hidden = !vaultAvailable();
  $("reader-hint").hidden = !(state.reader && shared());
  renderSaved();
  show("identify");
}
guard($("setup-save"), async () => {
  const key = $("setup-key").value.trim();
  if (!key) return;
  const got = await checkKey(key);
  if (!got.role) { keyError($("setup-error"), got); return; }
  localStorage.setItem("lifecert-key", key);
  $("setup-key").value = ""; wipe($("setup-error"));
  await start();
});
$("staff-mode").addEventListener("click", () => { $("staff-key").value = ""; wipe($("staff-error")); show("staff"); });
$("staff-back").addEventListener("click", () => show("identify"));
guard($("staff-login"), async () => {
  const key = $("staff-key").value.trim();
  const got = await checkKey(key, "staff");
  if (!got.role) { keyError($("staff-error"), got); return; }
  sessionStorage.setItem("lifecert-staff-key", key);
  $("staff-key").value = "";
  await start();
});
function exitStaff() { sessionStorage.removeItem("lifecert-staff-key"); resetAll(); start(); }
$("staff-exit").addEventListener("click", exitStaff);

// ---- idle reset: a shared screen never keeps a person's details for the next one ---------
let lastInput = Date.now();
function touch() { lastInput = Date.now(); $("idle").hidden = true; }
["pointerdown", "keydown", "input"].forEach((ev) => document.addEventListener(ev, touch, true));
function hasDetails() { return [...document.querySelectorAll("main input:not([type=checkbox])")].some((i) => i.value) || state.person; }
setInterval(() => {
  const idle = shared() && !state.run && step() && step() !== "setup" && step() !== "upload"
    && (step() !== "identify" || hasDetails() || state.staffMode);
  if (!idle) { $("idle").hidden = true; return; }
  const left = CONFIG.idleMs - (Date.now() - lastInput);
  if (left <= 0) { $("idle").hidden = true; if (state.staffMode) exitStaff(); else resetAll(); return; }
  if (left > CONFIG.idleWarnMs) return;
  const s = Math.ceil(left / 1000);
  put($("idle-text"), `长时间无人操作，${s} 秒后将清除信息并回到首页。`, `No one has touched the screen: in ${s} s the details are cleared and the page starts again.`);
  $("idle").hidden = false;
}, 250);
$("idle-stay").addEventListener("click", touch);

function resetAll() {
  cancelRun("reset");
  stopCamera();
  Object.assign(state, { person: null, idNumber: "", name: "", proxyId: null, savedProxy: null, failures: 0, failuresFor: "", retry: null });
  document.querySelectorAll("main input").forEach((i) => { if (i.type === "checkbox") i.checked = i.defaultChecked; else i.value = ""; });
  document.querySelectorAll("main .feedback").forEach(wipe);
  wipe($("person-line")); $("result-body").replaceChildren();
  renderSaved();
  show("identify");
}

// ---- step 1: identify (typed, from an ID-card reader, or a relative saved on this phone) ---
async function identify() {
  const idNumber = $("id-number").value.trim().toUpperCase();
  const name = $("name").value.trim();
  if (idNumber.length < 15 || !name) {
    put($("identify-error"), "请输入完整的证件号码和姓名。", "Enter the full ID number and the name.");
    return;
  }
  wipe($("identify-error"));
  if (idNumber !== state.failuresFor) { state.failures = 0; state.failuresFor = idNumber; }
  state.idNumber = idNumber; state.name = name;
  try {
    state.person = await call("POST", "/v1/lookup", { id_number: idNumber, name });
  } catch (e) { showProblem(e.problem, "identify"); return; }
  put($("person-line"), `${state.person.name}（${state.person.id_number_masked}）`);
  show("consent");
}
guard($("identify-next"), () => { state.savedProxy = null; return identify(); });

// A local ID-card reader (读卡器) is pluggable: the kiosk shell that talks to the reader posts
// {type: "lifecert-id-card-reader", ready: true} once, then {type: "lifecert-id-card",
// id_number, name} for each card, into this window (see README). Nothing is kept.
window.addEventListener("message", (ev) => {
  if (ev.source !== window || ev.origin !== location.origin || !ev.data || typeof ev.data !== "object") return;
  if (ev.data.type === "lifecert-id-card-reader") {
    state.reader = !!ev.data.ready;
    $("reader-hint").hidden = !(state.reader && shared());
  } else if (ev.data.type === "lifecert-id-card" && step() === "identify" && !state.busy) {
    $("id-number").value = String(ev.data.id_number || "").slice(0, 18);
    $("name").value = String(ev.data.name || "").slice(0, 30);
    touch();
    $("identify-next").click();
  }
});

// ---- step 2: consent; step 3: self or proxy --------------------------------------------
$("consent-yes").addEventListener("click", () => {
  if (state.savedProxy) { state.proxyId = state.savedProxy; openCamera(); return; }
  state.proxyId = null; show("who");
});
$("consent-no").addEventListener("click", () => showResult({
  title: ["未同意，未进行采集", "No consent: nothing was recorded"], icon: "card", retry: "consent", say: "notice",
  headline: ["您可以前往社保经办窗口办理认证。", "You can certify at a social-insurance counter instead."] }));
$("consent-back").addEventListener("click", () => show("identify"));
$("who-self").addEventListener("click", () => { state.proxyId = null; openCamera(); });
$("who-proxy").addEventListener("click", () => show("proxy"));
$("who-back").addEventListener("click", () => show("consent"));
$("proxy-back").addEventListener("click", () => show("who"));
guard($("proxy-next"), async () => {
  const phone = $("proxy-phone").value.trim();
  const helper = { id_number: $("proxy-id").value.trim().toUpperCase(), name: $("proxy-name").value.trim(), phone };
  const relation = $("proxy-relation").value.trim() || "relative";
  try {
    const proxy = await call("POST", "/v1/proxies", helper);
    await call("POST", `/v1/proxies/${proxy.proxy_id}/persons`, { id_number: state.idNumber, name: state.name,
      relationship: relation, consent: true });
    state.proxyId = proxy.proxy_id;
  } catch (e) { showProblem(e.problem, "proxy"); return; }
  if (!$("remember-row").hidden && $("remember").checked) {
    await remember({ proxyId: state.proxyId, name: helper.name, phone: phone.slice(0, 3) + "****" + phone.slice(-4) },
                   { name: state.name, masked: state.person.id_number_masked, relation, idNumber: state.idNumber });
  }
  openCamera();
});

// ---- saved helpers (亲情代办) on a phone ------------------------------------------------
// localStorage keeps names, the masked ID number and the helper's masked phone; the full ID
// number only sealed (AES-GCM) under a key the browser cannot export (IndexedDB), so a copy
// of the storage reveals nothing and the screen never shows more than the lookup already did.
const SAVED = "lifecert-helpers";
function vaultAvailable() { return state.deviceRole === "app" && !!(window.crypto && crypto.subtle && window.indexedDB); }
function savedList() { try { return JSON.parse(localStorage.getItem(SAVED)) || []; } catch (e) { return []; } }
function idbKey() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open("lifecert", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("keys");
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const get = db.transaction("keys").objectStore("keys").get("helpers");
      get.onerror = () => reject(get.error);
      get.onsuccess = async () => {
        if (get.result) { resolve(get.result); return; }
        const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
        const tx = db.transaction("keys", "readwrite"); tx.objectStore("keys").put(key, "helpers");
        tx.oncomplete = () => resolve(key); tx.onerror = () => reject(tx.error);
      };
    };
  });
}
const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
async function seal(text) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await idbKey(), new TextEncoder().encode(text));
  return b64(iv) + "." + b64(sealed);
}
async function unseal(s) {
  const [iv, data] = s.split(".").map(unb64);
  return new TextDecoder().decode(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, await idbKey(), data));
}
async function remember(helper, person) {
  try {
    const entry = { name: person.name, masked: person.masked, relation: person.relation, sealed: await seal(person.idNumber) };
    const list = savedList().filter((x) => x.proxyId !== helper.proxyId);
    const old = savedList().find((x) => x.proxyId === helper.proxyId);
    const people = (old ? old.people : []).filter((p) => p.masked !== entry.masked || p.name !== entry.name);
    list.unshift({ ...helper, people: [entry, ...people] });
    localStorage.setItem(SAVED, JSON.stringify(list.slice(0, 5)));
  } catch (e) { /* nothing saved: the person types next time */ }
}
function forget(proxyId, masked) {
  const list = savedList().map((h) => (h.proxyId !== proxyId ? h : { ...h, people: h.people.filter((p) => p.masked !== masked) }))
    .filter((h) => h.people.length);
  localStorage.setItem(SAVED, JSON.stringify(list));
  renderSaved();
}
function renderSaved() {
  const box = $("saved-list");
  box.replaceChildren();
  const list = vaultAvailable() ? savedList() : [];
  $("saved").hidden = !list.length;
  for (const h of list) {
    for (const p of h.people) {
      const go = make("button", "secondary saved-person", `为 ${p.name}（${p.masked}）认证 · 协助人 ${h.name}`,
        `Certify ${p.name} (${p.masked}) · helper ${h.name}`);
      go.type = "button";
      guard(go, async () => {
        try { $("id-number").value = await unseal(p.sealed); } catch (e) { forget(h.proxyId, p.masked); return; }
        $("name").value = p.name;
        state.savedProxy = h.proxyId;
        await identify();
      });
      const drop = make("button", "small forget", "删除", "Remove");
      drop.type = "button";
      drop.setAttribute("aria-label", t(`删除 ${p.name}`, `Remove ${p.name}`));
      drop.addEventListener("click", () => forget(h.proxyId, p.masked));
      box.append(go, drop);
    }
  }
}

// ---- step 4: capture ------------------------------------------------------------------
async function openCamera() {
  cancelRun("reset");
  show("capture");
  captureControls(false);
  advise("", ["", ""]);
  if (!state.stream) {
    try {
      // 30 fps asked for (ideal, never required): below ~20 fps the mouth and blink checks lose
      // their footing (BENCHMARKS.md, liveness under capture conditions).
      state.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user", width: 640, height: 480, frameRate: { ideal: 30 } }, audio: true });
    } catch (e) {
      showResult({ title: ["无法打开摄像头或麦克风", "The camera or microphone cannot be opened"], icon: "face", retry: "camera", say: "notice",
        headline: ["请允许使用摄像头和麦克风，或前往窗口办理。", "Allow the camera and microphone, or go to the counter."] });
      return;
    }
    $("video").srcObject = state.stream;
  }
  startPreview();
}
function captureControls(running) {
  $("capture-start").hidden = running; $("capture-back").hidden = running; $("capture-cancel").hidden = !running;
  $("countdown").hidden = true; $("digits").hidden = true; wipe($("prompt"));
  document.body.dataset.phase = running ? "starting" : "ready";
  ring(0);
}
$("capture-back").addEventListener("click", () => { stopCamera(); show(state.savedProxy ? "consent" : state.proxyId ? "proxy" : "who"); });
$("capture-cancel").addEventListener("click", () => cancelRun("cancel"));
$("upload-cancel").addEventListener("click", () => cancelRun("cancel"));

const PREVIEW_MESSAGES = {
  ok: ["位置合适，可以开始", "Good position: you can start"],
  hold: ["位置合适，请保持不动", "Good position: hold still"],  // the live capture: no button to press
  no_face: ["未检测到人脸，请正对镜头", "No face seen: look at the camera"],
  several_faces: ["画面中只能有一个人", "One face only, please"],
  face_too_small: ["请靠近一些", "Move closer"],
  too_dark: ["光线太暗，请到明亮处", "Too dark: find more light"],
  too_bright: ["光线太强，请避开强光", "Too bright: avoid strong light"],
  face_turned: ["请正对镜头", "Face the camera"],
  face_blurred: ["请保持不动", "Hold still"],
  down: ["暂时连不上服务，请稍候", "The service cannot be reached: please wait"],
};

function ring(percent) { $("ring").setAttribute("stroke-dasharray", `${Math.max(0, Math.min(100, percent))} 100`); }

function grabFrame() {
  const v = $("video");
  if (!v.videoWidth) return Promise.resolve(null);
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext("2d").drawImage(v, 0, 0);
  return new Promise((resolve) => c.toBlob(resolve, "image/jpeg", 0.85));
}

function startPreview() {
  stopPreview();
  state.okStreak = 0;
  state.previewTimer = setInterval(previewOnce, CONFIG.previewMs);
}
async function previewOnce() {
  if (state.run || state.previewing) return;
  state.previewing = true;
  try {
    const blob = await grabFrame();
    if (!blob) return;
    const form = new FormData();
    form.append("frame", blob, "frame.jpg");
    const r = await call("POST", "/v1/preview", form);
    if (!state.run && step() === "capture") advise(r.code, PREVIEW_MESSAGES[r.code] || [r.message_zh, r.message_en]);
  } catch (e) {
    // No answer: never leave "good position" up as if the service had said so.
    if (!state.run && step() === "capture") advise(e.problem && e.problem.code === "service_unavailable" ? "down" : "", ["", ""]);
  } finally { state.previewing = false; }
}
function stopPreview() { if (state.previewTimer) clearInterval(state.previewTimer); state.previewTimer = null; }

// The advice shows on screen, colours and fills the ring over the face guide, and is said.
function advise(code, words, spoken = `advice_${code}`) {
  const [zh, en] = code === "down" ? PREVIEW_MESSAGES.down : words;
  document.querySelector(".camera").dataset.advice = code;
  if (zh) put($("feedback"), zh, en); else wipe($("feedback"));
  $("feedback").classList.toggle("good", code === "ok");
  state.okStreak = code === "ok" ? state.okStreak + 1 : 0;
  ring(code === "ok" ? 50 * state.okStreak : code && code !== "down" ? 20 : 0);
  $("capture-start").disabled = code === "down";
  if (!PREVIEW_MESSAGES[code]) { state.lastAdvice = ""; return; }
  const now = Date.now();
  const again = code === state.lastAdvice && (!state.elder || now - state.lastAdviceAt < 7000);
  if (again || now - state.lastAdviceAt < 2500) return;
  state.lastAdvice = code; state.lastAdviceAt = now;
  say(spoken, t(zh, en));
}

// ---- spoken prompts -------------------------------------------------------------------
// Files made at install time (lifecert kiosk-audio, espeak-ng) when the service has them,
// else the browser's own voice when it has one for the language; with the sound off, the
// same words are on screen. Nothing is spoken while the reader's voice is being judged.
let spokenFiles = {};
fetch("/kiosk/audio/index.json").then((r) => (r.ok ? r.json() : {})).then((j) => { spokenFiles = j; }).catch(() => {});
let playing = null;
let spokenTurn = 0;
window.lifecertSpoken = [];  // what was spoken and how, for the browser tests

function hush() {
  spokenTurn += 1;
  if (playing) { playing.pause(); playing = null; }
  if ("speechSynthesis" in window) speechSynthesis.cancel();
}
function say(key, text) { hush(); return speak(key, text); }
// Several phrases in a row (a verdict, then its reason); a newer prompt cuts the rest.
async function sayAll(items) {
  hush();
  const turn = spokenTurn;
  for (const [key, text] of items) { if (turn !== spokenTurn) return; await speak(key, text); }
}
function speak(key, text) {
  if ((spokenFiles[state.lang] || []).includes(key)) {
    const audio = new Audio(`/kiosk/audio/${state.lang}/${key}.mp3`);
    playing = audio;
    const ended = new Promise((resolve) => { audio.onended = resolve; audio.onerror = resolve; });
    window.lifecertSpoken.push([key, "file"]);
    // AbortError: a newer prompt replaced this one before it started, which is not a failure.
    return audio.play().then(() => ended, (e) => {
      if (e.name === "AbortError") return undefined;
      window.lifecertSpoken.push([key, "file-failed"]);
      return browserVoice(key, text);
    });
  }
  return browserVoice(key, text);
}
function browserVoice(key, text) {
  if (!("speechSynthesis" in window)) return Promise.resolve();
  const voice = speechSynthesis.getVoices().find((v) => v.lang.toLowerCase().startsWith(state.lang === "zh" ? "zh" : "en"));
  if (!voice) return Promise.resolve();  // no voice: the words are on screen anyway
  const u = new SpeechSynthesisUtterance(text);
  u.voice = voice; u.lang = voice.lang; u.rate = state.elder ? 0.8 : 0.9;
  const ended = new Promise((resolve) => { u.onend = resolve; u.onerror = resolve; });
  speechSynthesis.speak(u);
  window.lifecertSpoken.push([key, "browser"]);
  return ended;
}

// The plan of the actions, said before recording, in the challenge's order. The page asks for
// a challenge in its own language; should a service answer in Mandarin anyway, the English
// page says the digits are to be read in Chinese.
function planOf(session) {
  const order = [...session.prompts].sort((a, b) => a.start_s - b.start_s).map((p) => p.action).join("_");
  const zhDigits = session.language !== "en";
  return {
    blink: ["plan_blink", "请正对屏幕，准备眨眼", "Face the screen, and get ready to blink."],
    digits: ["plan_digits", "请正对屏幕，准备读数字",
      zhDigits ? "Face the screen, and get ready to read digits aloud in Chinese." : "Face the screen, and get ready to read digits aloud."],
    blink_digits: ["plan_blink_digits", "请先眨眼，再读数字",
      zhDigits ? "First blink, then read the digits aloud in Chinese." : "First blink, then read the digits aloud."],
    digits_blink: ["plan_digits_blink", "请先读数字，再眨眼",
      zhDigits ? "First read the digits aloud in Chinese, then blink." : "First read the digits aloud, then blink."],
  }[order] || ["plan_steps", "请按屏幕提示，一步一步做", "Follow the prompts on the screen, one step at a time."];
}

// One certification run: every wait can be cut short by 取消, a lost service or a reset.
function cancelRun(why) {
  const run = state.run;
  if (!run) return;
  state.run = null;
  run.cancelled = why;
  run.wakers.forEach((w) => w());
  clearInterval(run.heart); clearInterval(run.clock); clearTimeout(run.slow); clearTimeout(run.timeout);
  if (run.recorder && run.recorder.state !== "inactive") run.recorder.stop();
  if (run.upload) run.upload.abort();
  if (run.live) run.live.stop();
  hush();
}
function wait(run, ms) {
  return new Promise((resolve, reject) => {
    if (run.cancelled) { reject(new Cancelled(run.cancelled)); return; }
    const wake = () => { clearTimeout(id); reject(new Cancelled(run.cancelled)); };
    const id = setTimeout(() => { run.wakers.delete(wake); resolve(); }, ms);
    run.wakers.add(wake);
  });
}
// While the person performs, the service is asked every few seconds whether it is still
// there; two missed answers end the recording at once instead of at the upload.
function heartbeat(run) {
  let missed = 0;
  run.heart = setInterval(async () => {
    try {
      const r = await fetch("/healthz", { cache: "no-store", signal: AbortSignal.timeout(CONFIG.heartbeatMs) });
      missed = r.ok ? 0 : missed + 1;
    } catch (e) { missed += 1; }
    if (missed >= 2 && state.run === run) cancelRun("down");
  }, CONFIG.heartbeatMs);
}

// Timings of the last certification, for the benchmark (benchmarks/kiosk_timing.py).
window.lifecertTimings = {};

async function capture() {
  const run = { cancelled: null, wakers: new Set() };
  state.run = run;
  captureControls(true);
  stopPreview();
  wipe($("feedback"));
  document.querySelector(".camera").dataset.advice = "run";
  const clicked = performance.now();
  const channel = state.role === "staff" ? ($("home-visit").checked ? "home_visit" : "counter")
                : state.role === "app" ? "phone" : "kiosk";
  let session;
  try {
    if (liveWanted() && liveSupported() && !state.liveBroken) {
      try {
        const result = await captureLive(run, clicked, channel);
        state.run = null;
        showOutcome(result);
        return;
      } catch (e) {
        // A proxy without WebSocket upgrades, say: nothing was shown or claimed, so the
        // recorded upload goes on at once, and stays the way on this device.
        if (!(e instanceof LiveUnavailable)) throw e;
        if (!(e instanceof LiveFull)) state.liveBroken = true;
        if (run.live) run.live = null;
      }
    }
    session = await call("POST", "/v1/sessions", { id_number: state.idNumber, name: state.name, channel,
      consent: true, proxy_id: state.proxyId, language: state.lang });
    if (run.cancelled) throw new Cancelled(run.cancelled);
    heartbeat(run);
    const [planKey, zh, en] = planOf(session);
    document.body.dataset.phase = "plan";
    put($("prompt"), zh, en);
    await Promise.race([say(planKey, t(zh, en)), wait(run, CONFIG.planMaxMs)]);
    if (state.elder) await wait(run, 700);  // a breath between the plan and the count
    wipe($("prompt"));
    const planned = performance.now();
    document.body.dataset.phase = "countdown";
    for (const n of [3, 2, 1]) {
      $("countdown").hidden = false; $("countdown").textContent = n; say(`count_${n}`, String(n));
      await wait(run, state.elder ? CONFIG.countElderMs : CONFIG.countMs);
    }
    $("countdown").hidden = true;

    const type = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp8", "video/webm", "video/mp4"]
      .find((m) => window.MediaRecorder && MediaRecorder.isTypeSupported(m));
    const recorder = new MediaRecorder(state.stream, type ? { mimeType: type, videoBitsPerSecond: 1500000 } : undefined);
    run.recorder = recorder;
    const chunks = [];
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    const stopped = new Promise((r) => { recorder.onstop = r; });
    recorder.start(250);
    document.body.dataset.phase = "recording";
    const t0 = performance.now();
    const prompts = [...session.prompts].sort((a, b) => a.start_s - b.start_s);
    const end = Math.max(...prompts.map((p) => p.end_s)) + 0.5;
    run.clock = setInterval(() => ring((100 * (performance.now() - t0)) / (end * 1000)), 200);
    for (const p of prompts) {
      const w = p.start_s * 1000 - (performance.now() - t0);
      if (w > 0) await wait(run, w);
      if (p.action === "blink") {
        const [key, bzh, ben] = session.blinks > 1 ? ["blink_2", "请眨眼两次", "Please blink twice."] : ["blink", "请眨眼", "Please blink."];
        $("digits").hidden = true; put($("prompt"), bzh, ben); say(key, t(bzh, ben));
      } else if (p.action === "turn_left" || p.action === "turn_right") {
        // The person's own left or right: said, not mirrored, so the preview's mirror image
        // cannot confuse it.
        const [tzh, ten] = p.action === "turn_left" ? ["请向左转头", "Please turn your head to your left."]
          : ["请向右转头", "Please turn your head to your right."];
        $("digits").hidden = true; put($("prompt"), tzh, ten); say(p.action, t(tzh, ten));
      } else {
        put($("prompt"), "请逐个读出下面的数字",
          session.language !== "en" ? "Read these digits aloud in Chinese, one by one" : "Read these digits aloud, one by one");
        $("digits").replaceChildren(...session.digits.split("").map((d) => make("span", "", d)));
        $("digits").setAttribute("aria-label", session.digits.split("").join(" "));
        $("digits").hidden = false;  // not spoken: the reader's voice is judged from here on
      }
    }
    const rest = end * 1000 - (performance.now() - t0);
    if (rest > 0) await wait(run, rest);
    clearInterval(run.clock); clearInterval(run.heart);
    recorder.stop();
    await stopped;
    const recorded = performance.now();
    document.body.dataset.phase = "upload";
    captureControls(false);
    stopCamera();
    show("upload");
    wipe($("upload-slow"));
    const form = new FormData();
    form.append("video", new Blob(chunks, { type: recorder.mimeType || "video/webm" }), "response.webm");
    run.upload = new AbortController();
    run.slow = setTimeout(() => put($("upload-slow"), "网络较慢，仍在上传。这不是您操作的问题，请稍候。",
      "The connection is slow and the upload is still going. It is not something you did; please wait."), CONFIG.uploadSlowMs);
    run.timeout = setTimeout(() => cancelRun("timeout"), CONFIG.uploadTimeoutMs);
    let result;
    try {
      result = await call("POST", `/v1/sessions/${session.session_id}/response`, form, { signal: run.upload.signal });
    } catch (e) {
      if (e instanceof ServiceError && e.problem.code === "session_expired" && performance.now() - recorded > CONFIG.slowHintMs) {
        e.problem = { ...e.problem, slow: Math.max(1, Math.round((performance.now() - recorded) / 1000)) };
      }
      throw e;
    }
    clearTimeout(run.slow); clearTimeout(run.timeout);
    const answered = performance.now();
    window.lifecertTimings = {
      plan_ms: planned - clicked, capture_ms: recorded - clicked, request_ms: answered - recorded, analysis_ms: result.analysis_ms,
      total_ms: answered - clicked, video_bytes: form.get("video").size,
    };
    state.run = null;
    showOutcome(result);
  } catch (e) {
    const why = run.cancelled || (e instanceof Cancelled ? e.message : null);
    cancelRun("done");
    if (why === "cancel") { openCamera(); return; }
    if (why === "reset") return;
    stopCamera();
    if (why === "down") showProblem(DOWN, "camera");
    else if (why === "timeout") showProblem({ code: "upload_slow" }, "camera");
    else if (e instanceof ServiceError) showProblem(e.problem, "camera");
    else throw e;
  }
}
$("capture-start").addEventListener("click", () => { if (!state.run) capture(); });

// ---- the live, guided capture ------------------------------------------------------------
// The service sees the frames as they are taken: it advises, decides when each prompt
// appears, confirms each action (✓ 好的) or asks once more, and answers with the verdict
// about a second after the last action. The digits come only in their prompt.
function liveWanted() { return CONFIG.live === true || (CONFIG.live === "auto" && shared()); }
function liveSupported() {
  return !!(window.WebSocket && HTMLCanvasElement.prototype.toBlob && (window.AudioContext || window.webkitAudioContext));
}
function showAction(p) {
  $("digits").hidden = true;
  if (p.action === "blink") {
    const [key, zh, en] = p.blinks > 1 ? ["blink_2", "请眨眼两次", "Please blink twice."] : ["blink", "请眨眼", "Please blink."];
    put($("prompt"), zh, en); say(key, t(zh, en));
  } else if (p.action === "turn_left" || p.action === "turn_right") {
    const [zh, en] = p.action === "turn_left" ? ["请向左转头", "Please turn your head to your left."]
      : ["请向右转头", "Please turn your head to your right."];
    put($("prompt"), zh, en); say(p.action, t(zh, en));
  } else {
    put($("prompt"), "请逐个读出下面的数字", "Read these digits aloud in Chinese, one by one");
    $("digits").replaceChildren(...p.digits.split("").map((d) => make("span", "", d)));
    $("digits").setAttribute("aria-label", p.digits.split("").join(" "));
    $("digits").hidden = false;  // not spoken: the reader's voice is judged from here on
    hush();
  }
}
function captureLive(run, clicked, channel) {
  return new Promise(async (resolve, reject) => {
    let session;
    try {
      session = await call("POST", "/v1/sessions", { id_number: state.idNumber, name: state.name, channel,
        consent: true, proxy_id: state.proxyId, language: state.lang, capture: "live" });
    } catch (e) { reject(e); return; }
    if (run.cancelled) { reject(new Cancelled(run.cancelled)); return; }
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${session.live_path}`);
    ws.binaryType = "arraybuffer";
    const v = $("video"), canvas = document.createElement("canvas");
    let t0 = null, sent = 0, acked = 0, encoding = false, bytes = 0, timer = null, audio = null, lastOk = null, judging = null, done = false;
    const ms = () => (t0 === null ? 0 : Math.round(performance.now() - t0));
    const send = (kind, payload) => {
      const out = new Uint8Array(5 + payload.byteLength);
      out[0] = kind; new DataView(out.buffer).setUint32(1, ms(), true); out.set(new Uint8Array(payload), 5);
      ws.send(out); bytes += out.byteLength;
    };
    const stop = () => {
      clearInterval(timer);
      if (audio) { audio.proc.disconnect(); audio.src.disconnect(); audio.ctx.close(); audio = null; }
    };
    const finish = (fn, value) => { if (done) return; done = true; stop(); if (ws.readyState <= 1) ws.close(); fn(value); };
    run.live = { stop: () => { if (ws.readyState === 1) ws.send(JSON.stringify({ type: "stop" })); finish(reject, new Cancelled(run.cancelled)); } };
    const frame = () => {
      if (encoding || !v.videoWidth || sent - acked >= CONFIG.liveInFlight) return;
      const scale = Math.min(1, CONFIG.liveWidth / v.videoWidth);
      canvas.width = Math.round(v.videoWidth * scale); canvas.height = Math.round(v.videoHeight * scale);
      canvas.getContext("2d").drawImage(v, 0, 0, canvas.width, canvas.height);
      encoding = true;
      canvas.toBlob(async (blob) => {
        encoding = false;
        if (!blob || done || ws.readyState !== 1) return;
        if (t0 === null) t0 = performance.now();
        send(1, await blob.arrayBuffer()); sent += 1;
      }, "image/jpeg", 0.85);
    };
    const microphone = () => {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      const ctx = new Ctx({ sampleRate: 16000 });
      const src = ctx.createMediaStreamSource(state.stream);
      const proc = ctx.createScriptProcessor(4096, 1, 1);
      proc.onaudioprocess = (e) => {
        if (t0 === null || done || ws.readyState !== 1) return;
        const f = e.inputBuffer.getChannelData(0), pcm = new Int16Array(f.length);
        for (let i = 0; i < f.length; i++) pcm[i] = Math.max(-1, Math.min(1, f[i])) * 32767;
        send(2, pcm.buffer);
      };
      src.connect(proc); proc.connect(ctx.destination);
      audio = { ctx, src, proc };
    };
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", key: state.key }));
    const events = [];  // what the service said and when, for the benchmark
    ws.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.type !== "measured") events.push([e.type, e.action || e.code || "", Math.round(performance.now() - clicked)]);
      if (e.type === "ready") {
        document.body.dataset.phase = "recording";
        put($("prompt"), "请按屏幕提示，一步一步做", "Follow the prompts on the screen, one step at a time.");
        say("plan_steps", t("请按屏幕提示，一步一步做", "Follow the prompts on the screen, one step at a time."));
        try { microphone(); } catch (err) { /* no sound: the digits are then judged on the lips only */ }
        timer = setInterval(frame, 1000 / CONFIG.liveFps);
      } else if (e.type === "measured") {
        acked += 1;
      } else if (e.type === "advice") {
        if (e.code === "ok") advise("ok", PREVIEW_MESSAGES.hold, "advice_hold");
        else advise(e.code, PREVIEW_MESSAGES[e.code] || [e.message_zh, e.message_en]);
      } else if (e.type === "prompt") {
        showAction(e);
      } else if (e.type === "ok") {
        lastOk = performance.now();
        $("digits").hidden = true;
        put($("prompt"), "✓ 好的", "✓ OK"); say("confirmed", t("好的", "OK"));
      } else if (e.type === "missed") {
        lastOk = null;  // the capture now ends on this miss, or on the next action's ok
        $("digits").hidden = true;
        if (!e.final) { put($("prompt"), "没看到，请再做一次", "Not seen: once more, please."); say("again", t("没看到，请再做一次", "Not seen: once more, please.")); }
      } else if (e.type === "judging") {
        judging = performance.now(); stop();
        captureControls(false); stopCamera(); show("upload"); wipe($("upload-slow"));
      } else if (e.type === "verdict") {
        const answered = performance.now();
        // request_ms: from the last action seen (or the final miss) to the verdict.
        window.lifecertTimings = { live: true, plan_ms: 0, capture_ms: judging - clicked,
          request_ms: answered - (lastOk || judging), analysis_ms: e.analysis_ms, total_ms: answered - clicked, video_bytes: bytes, frames: sent, events };
        finish(resolve, e);
      } else if (e.type === "error") {
        // Full before it began: nothing was claimed or shown, so record and upload instead.
        // Too few frames got through: this device's link cannot carry the live frames, so the
        // person's next try records and uploads (no loop of the same failure).
        if (e.problem.code === "live_too_few_frames") state.liveBroken = true;
        finish(reject, e.problem.code === "live_capture_full" ? new LiveFull() : new ServiceError(e.problem));
      }
    };
    let answered = false;
    ws.addEventListener("message", () => { answered = true; });
    ws.onclose = () => finish(reject, run.cancelled ? new Cancelled(run.cancelled)
      : answered ? new ServiceError(DOWN) : new LiveUnavailable());
  });
}

function stopCamera() {
  stopPreview();
  if (state.stream) state.stream.getTracks().forEach((tr) => tr.stop());
  state.stream = null;
  $("video").srcObject = null;
}

// ---- step 5: the result: one reason, a picture, said aloud, what to do next -------------
// Short, calm advice per reason (the service's own wording stays under "details").
const REASONS = {
  blink_not_seen: ["eye", "没看到眨眼，听到提示请慢慢眨眼。", "No blink was seen: blink slowly when asked."],
  digits_not_read: ["mouth", "没听清读数，请逐个大声读出数字。", "The digits were not heard: read each one aloud."],
  voice_not_in_sync: ["mouth", "声音和口型对不上，请本人读数字。", "The voice did not match the mouth: the person reads."],
  face_changed: ["people", "中途换了人，请本人一直对着镜头。", "The face changed: the same person stays in view."],
  no_live_motion: ["photo", "没看到真人，不能用照片或屏幕。", "No live person seen: no photos or screens."],
  video_discontinuous: ["face", "录像不连续，请再录一次。", "The recording broke off: record again."],
  several_faces_in_video: ["people", "画面里有多人，请只留本人。", "Several faces seen: only the person stays in view."],
  face_not_visible: ["face", "请把脸一直放在圆圈里。", "Keep the face inside the circle until the end."],
  face_mismatch: ["face", "和登记照片不像，可再试或去窗口。", "The face does not match the photo: retry, or go to the counter."],
  challenge_expired: ["wait", "时间到了，请重新开始。", "Time ran out. Please start again."],
  session_expired: ["wait", "认证已超时，请重新开始。", "The session has expired: start again."],
  person_not_found: ["card", "没找到此人，请核对证件号和姓名。", "No one found: check the ID number and the name."],
  too_many_attempts: ["wait", "失败次数过多，请30分钟后再试。", "Too many failed tries: try again in 30 minutes."],
  service_unavailable: ["net", "连不上服务，请稍后再试。", "The service cannot be reached: try again later."],
  upload_slow: ["net", "网络太慢，视频没传上去。", "The connection was too slow to send the video."],
};
// Where "try again" leads: back to the step where it can help, with what was typed kept.
const NO_RETRY = ["too_many_attempts", "person_deceased", "no_reference_photo", "channel_not_allowed", "forbidden", "unauthenticated"];
function retryFor(code, where) {
  if (!where || NO_RETRY.includes(code)) return null;
  if (code === "person_not_found" || code === "invalid_request") return where === "proxy" ? "proxy" : "identify";
  if (code.startsWith("proxy_")) return "proxy";
  return where;
}

function showProblem(p, where) {
  const known = REASONS[p.code];
  const server = p.message_zh ? [p.message_zh, p.message_en || p.message_zh] : null;
  const headline = known ? [known[1], known[2]] : server || [DOWN.message_zh, DOWN.message_en];
  const more = [];
  if (["service_unavailable", "upload_slow", "live_too_few_frames"].includes(p.code)) more.push(["这不是您操作的问题。", "It is not something you did."]);
  if (p.code === "upload_slow") more.push(["请换个网络，或稍后再试。", "Try another network, or later."]);
  if (p.code === "too_many_attempts") more.push(["也可以前往社区服务中心、社保经办窗口办理。", "You can also go to your community service centre or counter."]);
  if (p.slow) more.push([`上传用了 ${p.slow} 秒，多半是网络较慢，不是您操作的问题。`, `The upload took ${p.slow} s: most likely a slow connection, not something you did.`]);
  showResult({ title: ["无法完成", "Could not complete"], icon: known ? known[0] : "wait", headline, more,
    details: known && server && server[0] !== known[1] ? [server] : [], retry: retryFor(p.code, where),
    say: known ? `reason_${p.code}` : "notice" });
}

function showOutcome(r) {
  if (r.outcome === "passed") {
    const facts = [[["下次认证截止日期", "Next certification due by"], r.next_due], [["待遇发放日期", "Payment date"], r.payment_date]];
    if (r.back_paid_months && r.back_paid_months.length) {
      facts.push([["补发月份", "Months back-paid"], r.back_paid_months.map((m) => `${m[0]}-${String(m[1]).padStart(2, "0")}`).join(", ")]);
    }
    showResult({ ok: true, title: ["认证成功", "Certification passed."], icon: "ok", facts, say: "passed" });
  } else if (r.outcome === "review") {
    showResult({ ok: true, title: ["已提交，待工作人员审核", "Submitted for staff review."], icon: "wait", say: "review",
      details: r.reasons.map((x) => [x.zh, x.en]) });
  } else {
    if (state.role !== "staff") state.failures += 1;  // staff checks are not locked out
    const left = state.role === "staff" ? null : Math.max(0, CONFIG.lockoutBurst - state.failures);
    const main = r.reasons.find((x) => REASONS[x.code]) || r.reasons[0] || {};
    const known = REASONS[main.code];
    const more = [["认证未通过不会影响您的待遇发放。", "This does not stop your payments by itself."]];
    if (left !== null) {
      more.unshift(left > 0 ? [`本机还可以再试 ${left} 次。`, `${left} more ${left === 1 ? "try" : "tries"} on this device.`]
        : ["本机暂时不能再试了，请30分钟后再来，或前往社区服务中心、社保经办窗口办理。", "No more tries on this device for now: come back in 30 minutes, or go to your community service centre or counter."]);
    }
    showResult({ title: ["认证未通过", "Not certified this time"], icon: known ? known[0] : "face",
      headline: known ? [known[1], known[2]] : [main.zh || "请重试，或前往窗口办理。", main.en || "Please retry, or go to the counter."],
      tries: left, more, details: r.reasons.map((x) => [x.zh, x.en]), retry: left === 0 ? null : "camera",
      say: known ? ["failed_title", `reason_${main.code}`] : "failed" });
  }
}

const RETRY_LABELS = { identify: ["修改身份信息", "Change the details"], proxy: ["修改协助人信息", "Change the helper's details"],
                       camera: ["再试一次", "Try again"], consent: ["返回", "Back"] };
function showResult(o) {
  cancelRun("done");
  stopCamera();
  put($("result-title"), ...o.title);
  $("result-title").className = o.ok ? "result-ok" : "result-bad";
  $("result-icon").classList.toggle("ok", !!o.ok);
  $("result-icon").firstElementChild.setAttribute("href", `#i-${o.icon || "face"}`);
  const body = $("result-body");
  body.replaceChildren();
  if (o.facts && o.facts.length) {
    const dl = document.createElement("dl");
    for (const [[kzh, ken], v] of o.facts) { const dd = make("dd"); dd.textContent = v; dl.append(make("dt", "", kzh, ken), dd); }
    body.append(dl);
  }
  if (o.headline) body.append(make("p", "headline", ...o.headline));
  for (const [zh, en] of o.more || []) body.append(make("p", o.tries !== undefined && zh.startsWith("本机") ? "tries" : "reason", zh, en));
  if (o.details && o.details.length) {
    const d = make("details");
    d.append(make("summary", "", "详细原因", "Details"), ...o.details.map(([zh, en]) => make("p", "reason", zh, en)));
    body.append(d);
  }
  state.retry = o.retry || null;
  $("result-again").hidden = !state.retry;
  if (state.retry) put($("result-again"), ...RETRY_LABELS[state.retry]);
  show("result");
  const keys = Array.isArray(o.say) ? o.say : [o.say || "notice"];
  const words = { passed: o.title, review: o.title, failed_title: o.title, notice: ["请看屏幕上的说明", "Please read the screen."],
                  failed: ["认证未通过，请看屏幕", "Not passed. Please read the screen."] };
  sayAll(keys.map((k) => [k, t(...(words[k] || o.headline || o.title))]));
}
$("result-again").addEventListener("click", () => {
  if (state.retry === "camera") openCamera(); else show(state.retry);
});
$("result-done").addEventListener("click", () => {
  if (state.staffMode && shared()) exitStaff(); else resetAll();
});

applyLanguage();
start();
