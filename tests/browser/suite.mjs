// Browser tests of Understory's pages: headless Chromium driven by playwright-core, with
// axe-core run on every page (no serious or critical violations allowed), keyboard use, and
// screenshots at phone and desktop widths saved under artifacts/screenshots (not committed).
//
// Usage: node suite.mjs BASE_URL EDITOR_EMAIL PASSWORD ORG_HANDLE SETUP_LINK
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createHmac } from "node:crypto";
import http from "node:http";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const [base, email, password, handle, setupLink] = process.argv.slice(2);

// RFC 6238 TOTP, as an authenticator app computes it.
function totp(base32) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "")) bits += alphabet.indexOf(c.toUpperCase()).toString(2).padStart(5, "0");
  const bytes = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const h = createHmac("sha1", bytes).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}
const shots = new URL("../../artifacts/screenshots/", import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
function check(cond, what) {
  if (cond) { passed++; console.log(`ok   ${what}`); } else { failed++; console.log(`FAIL ${what}`); }
}

async function axe(page, name) {
  // Evaluated through the DevTools protocol: the page's CSP (no inline script) stays in force.
  await page.evaluate(`${axeSource}\n;true`);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) console.log(`     axe ${name}: ${v.id} (${v.impact}): ${v.help} [${v.nodes.map((n) => n.target).join(", ")}]`);
  check(bad.length === 0, `axe: no serious or critical violations on ${name}`);
}

async function shoot(page, name) {
  for (const [label, width, height] of [["phone", 390, 844], ["desktop", 1280, 900]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: `${shots}${name}-${label}.png`, fullPage: true });
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext();
const page = await context.newPage();
const cspErrors = [];
// Every image any page loads must come from our own origin (remote pictures through our cache).
const origin = new URL(base).origin;
const foreignImages = [];
page.on("request", (r) => { if (r.resourceType() === "image" && new URL(r.url()).origin !== origin) foreignImages.push(r.url()); });

// A stand-in for the visitor's own fediverse server: a real HTTP server on loopback that answers
// WebFinger with a `subscribe` template, as Mastodon does, and serves the follow page.
const visitorServer = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname === "/.well-known/webfinger") {
    const port = visitorServer.address().port;
    res.writeHead(200, { "content-type": "application/jrd+json" });
    res.end(JSON.stringify({ subject: url.searchParams.get("resource"), links: [
      { rel: "http://ostatus.org/schema/1.0/subscribe", template: `http://localhost:${port}/authorize_interaction?uri={uri}` }] }));
  } else if (url.pathname === "/authorize_interaction") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    // An explicit empty icon: otherwise Chrome may fetch this server's /favicon.ico while our
    // page (and its CSP) is still the one reporting, and count it as a violation of ours.
    res.end(`<!doctype html><html lang="en"><title>Follow</title><link rel="icon" href="data:,"><main><h1>Follow ${url.searchParams.get("uri")}?</h1></main></html>`);
  } else {
    res.writeHead(404); res.end();
  }
});
await new Promise((done) => visitorServer.listen(0, "127.0.0.1", done));
const visitorPort = visitorServer.address().port;
page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy/.test(m.text())) cspErrors.push(m.text()); });

// Home, directory search and filter, profile.
await page.goto(`${base}/`);
check((await page.title()).length > 0, "home page has a title");
await axe(page, "home");
await shoot(page, "home");
await page.fill("#q", "housing");
await page.keyboard.press("Enter");
await page.waitForURL(/\/directory\?q=housing/);
check(await page.locator("article h2 a").count() >= 1, "search finds the organisation");
await axe(page, "directory");
await shoot(page, "directory");
const facet = page.locator("ul.facets a").first();
await facet.click();
await page.waitForLoadState();
check(/theme=|place=|kind=|way=|offer=|language=|community=|instance=/.test(page.url()), "a facet filters and the URL can be shared");
await page.goto(`${base}/directory?q=nothingmatchesthis`);
check((await page.textContent("main")).includes("No organisation matches"), "clear empty state");
await page.goto(`${base}/@${handle}`);
check((await page.textContent("h1")).length > 0, "profile page opens");
check((await page.textContent("main")).includes(`@${handle}@`), "profile shows how to follow from any server");
await axe(page, "profile");
await shoot(page, "profile");

// Follow from another server: a bad handle gets a clear message, a real one goes to the
// visitor's own server's follow page with our handle filled in.
await page.fill("#follow-handle", "not a handle");
await page.click(`form[action='/@${handle}/follow'] button`);
await page.waitForLoadState();
check((await page.textContent("[role=alert]")).length > 10, "a bad handle to follow from shows a clear message");
check((await page.inputValue("#handle")) === "not a handle", "and keeps what was typed");
await axe(page, "follow page");
await page.goto(`${base}/@${handle}`);
await page.fill("#follow-handle", `reader@localhost:${visitorPort}`);
await page.click(`form[action='/@${handle}/follow'] button`);
await page.waitForURL(/authorize_interaction/);
const domain = new URL(base).host;
check(decodeURIComponent(page.url()).includes(`uri=${handle}@${domain}`), "Follow sends the visitor to their own server's follow page");

// Sign in with the keyboard only, then edit the profile and post an update.
await page.goto(`${base}/login`);
await axe(page, "login");
await shoot(page, "login");
await page.focus("#email");
await page.keyboard.type(email);
await page.keyboard.press("Tab");
await page.keyboard.type("wrong password");
await page.keyboard.press("Enter");
await page.waitForLoadState();
check((await page.textContent("[role=alert]")).includes("wrong"), "a wrong password shows a clear message");
check((await page.inputValue("#email")) === email, "and keeps the email typed");
await page.fill("#password", password);
await page.keyboard.press("Enter");
await page.waitForURL(`${base}/admin`);
check((await page.textContent("main")).includes(email), "signed in");
await axe(page, "admin");
await page.click(`a[href="/admin/orgs/${handle}"]`);
await page.waitForURL(`${base}/admin/orgs/${handle}`);
await axe(page, "profile form");
await shoot(page, "profile-form");
// Avatar: a file that is not a picture is refused with a reason; a real one is shown.
const profileForm = `form[action='/admin/orgs/${handle}'] button[type=submit]`;
const picturesForm = `form[action='/admin/orgs/${handle}/pictures'] button[type=submit]`;
await page.setInputFiles("#avatar", { name: "logo.png", mimeType: "image/png", buffer: Buffer.from("not a picture") });
await page.click(picturesForm);
await page.waitForLoadState();
check((await page.textContent("#errors")).includes("avatar: not an image"), "a non-picture avatar is refused with a reason");
await page.setInputFiles("#avatar", "src/web/static/avatar.png");
await page.setInputFiles("#header", "src/web/static/header.png");
await page.click(picturesForm);
await page.waitForLoadState();
check((await page.getAttribute("img.avatar", "src")).includes("/media/"), "the new avatar is stored and shown");
await page.fill("#own_themes", "not a tag");
await page.fill("#website", "ftp://files.example");
await page.click(profileForm);
await page.waitForLoadState();
check((await page.textContent("#errors")).includes("website"), "bad form input names the field");
check((await page.inputValue("#own_themes")) === "not a tag", "and keeps what was typed");
await axe(page, "profile form with errors");
await page.fill("#own_themes", "DampAndMould");
await page.fill("#website", "https://acme.example");
await page.check("#themes-DigitalInclusion");
await page.click(profileForm);
await page.waitForLoadState();
check((await page.textContent("main")).includes("The profile is saved"), "profile saved");
check((await page.textContent("main")).includes("DampAndMould"), "the Mastodon preview shows the new theme");
await page.goto(`${base}/admin/orgs/${handle}/updates`);
await page.fill("#text", "Our advice clinic opens on Monday #Housing");
await page.setInputFiles("#file1", "src/web/static/header.png");
await page.click("form button[type=submit]");
await page.waitForLoadState();
check((await page.textContent("#error")).includes("alt text is required"), "a picture without alt text is refused with a reason");
check((await page.inputValue("#text")).includes("advice clinic"), "and the text typed is kept");
await page.setInputFiles("#file1", "src/web/static/header.png");
await page.fill("#alt1", "The clinic's sign on Chapel Street");
await page.click("form button[type=submit]");
await page.waitForLoadState();
check((await page.textContent("[role=status]")).includes("Published"), "an update is published");
await axe(page, "updates");
await shoot(page, "updates");
await page.goto(`${base}/@${handle}`);
check((await page.textContent("main")).includes("advice clinic"), "the update shows on the profile");
check(await page.locator(`img[alt="The clinic's sign on Chapel Street"]`).count() === 1, "with its picture and alt text");
await axe(page, "profile with pictures");
await shoot(page, "profile-pictures");
await page.goto(`${base}/admin/orgs/${handle}/followers`);
await axe(page, "followers");
await page.goto(`${base}/admin/orgs/${handle}/tokens`);
await page.fill("#token-name", "newsletter sync");
await page.keyboard.press("Enter");
await page.waitForLoadState();
check(((await page.textContent("#secret")) || "").length >= 32, "an API token is made on the page and shown once");
await axe(page, "API tokens");

// A new operator, from the set-up link to a published organisation, with the pages alone.
await page.goto(`${base}/admin`);
await page.click("form[action='/logout'] button");
await page.waitForURL(`${base}/login`);
await page.goto(setupLink);
await axe(page, "setup");
await page.fill("#email", "operator@instance.example");
await page.fill("#password", "operator password 123");
await page.fill("#confirm", "operator password 123");
await page.click("form button[type=submit]");
await page.waitForURL(`${base}/login`);
await page.fill("#email", "operator@instance.example");
await page.fill("#password", "operator password 123");
await page.click("form button[type=submit]");
await page.waitForURL(`${base}/account/2fa`);
check(true, "a new operator must set up a second factor");
await axe(page, "two-factor set-up");
await shoot(page, "two-factor");
await page.fill("#code", totp(await page.textContent("#secret")));
await page.click("form button[type=submit]");
await page.waitForURL(`${base}/admin`);
await page.fill("#neworg-name", "Field Lab");
await page.fill("#neworg-handle", "fieldlab");
await page.click("form[action='/admin/orgs'] button");
await page.waitForURL(`${base}/admin/orgs/fieldlab`);
await page.check("#reach-public");
await page.check("#themes-DigitalInclusion");
await page.click("form[action='/admin/orgs/fieldlab'] button[type=submit]");
await page.waitForLoadState();
check((await page.textContent("main")).includes("The profile is saved"), "the operator's new organisation has a profile");
await page.goto(`${base}/admin/orgs/fieldlab/updates`);
await page.fill("#text", "Field Lab is open for co-design #DigitalInclusion");
await page.click("form button[type=submit]");
await page.waitForLoadState();
await page.goto(`${base}/@fieldlab`);
check((await page.textContent("main")).includes("open for co-design"), "published organisation with an update, from the web pages alone");
// Join this instance: an organisation asks, the operator approves from the page.
await page.goto(`${base}/join`);
await axe(page, "join");
await page.fill("#name", "River Trust");
await page.fill("#handle", "Bad Handle");
await page.fill("#email", "hello@river.example");
await page.click("form[action='/join'] button");
await page.waitForLoadState();
check((await page.textContent("main")).includes("handle"), "a bad join request names the field");
check((await page.inputValue("#name")) === "River Trust", "and keeps what was typed");
await page.fill("#handle", "rivertrust");
await page.click("form[action='/join'] button");
await page.waitForLoadState();
await page.goto(`${base}/admin/joins`);
await axe(page, "join requests");
await page.click("form[action$='/approve'] button");
await page.waitForLoadState();
await page.goto(`${base}/@rivertrust`);
check((await page.textContent("h1")).includes("River Trust"), "an approved join request becomes an organisation");
await page.goto(`${base}/admin/operator`);
await page.fill("#block-domain", "spam.example");
await page.click("form[action='/admin/operator/block'] button");
await page.waitForLoadState();
check((await page.textContent("main")).includes("spam.example"), "the operator blocks a domain from the page");
await axe(page, "operator");
await shoot(page, "operator");

check(cspErrors.length === 0, `no Content-Security-Policy violations (${cspErrors.join("; ")})`);
check(foreignImages.length === 0, `no page loaded an image from another origin (${foreignImages.join(", ")})`);
visitorServer.close();
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
