// A tiny JSON-lines bridge from pytest to playwright-core: one command per stdin line, one reply per
// stdout line ({"ok": true, "result": ...} or {"ok": false, "error": "..."}). It records every
// request the page makes and every console error, so the tests can assert on them.
//
// Usage: KENDALI_NODE_MODULES=<dir>/node_modules node driver.cjs /usr/bin/chromium

"use strict";
const path = require("node:path");
const readline = require("node:readline");
const { chromium } = require(path.join(process.env.KENDALI_NODE_MODULES, "playwright-core"));

// Keep Chromium off the network: no component updates, sync or background fetches.
const ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
  "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
  "--autoplay-policy=no-user-gesture-required",
];

let browser = null;
let context = null;
let page = null;
const requests = [];
const consoleMessages = [];

const commands = {
  async launch({ width, height }) {
    browser = await chromium.launch({ executablePath: process.argv[2], headless: true, args: ARGS });
    context = await browser.newContext({ viewport: { width, height } });
    page = await context.newPage();
    page.on("request", (req) => requests.push(req.url()));
    page.on("console", (msg) => consoleMessages.push({ type: msg.type(), text: msg.text() }));
    page.on("pageerror", (err) => consoleMessages.push({ type: "pageerror", text: String(err) }));
    return chromium.name();
  },
  async goto({ url }) {
    const resp = await page.goto(url, { waitUntil: "load" });
    return { status: resp.status(), headers: resp.headers() };
  },
  // Polls from here: waitForFunction evaluates with eval() in the page, which the wall's CSP forbids.
  async wait({ expr, timeout }) {
    const deadline = Date.now() + timeout;
    let last = null;
    while (Date.now() < deadline) {
      try {
        if (await page.evaluate(expr)) return true;
      } catch (err) {
        last = err.message;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`not true after ${timeout} ms: ${expr}${last ? ` (last error: ${last})` : ""}`);
  },
  async evaluate({ expr }) {
    return page.evaluate(expr);
  },
  async offline({ on }) {
    await context.setOffline(on);
    return on;
  },
  async press({ key }) {
    await page.keyboard.press(key);
    return true;
  },
  async click({ selector }) {
    await page.click(selector);
    return true;
  },
  async screenshot({ file, width, height }) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(300); // let the layout settle at the new size
    await page.screenshot({ path: file });
    return file;
  },
  async log() {
    return { requests, console: consoleMessages };
  },
  async close() {
    if (browser) await browser.close();
    browser = null;
    return true;
  },
};

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    const { cmd, ...args } = JSON.parse(line);
    let reply;
    try {
      reply = { ok: true, result: await commands[cmd](args) };
    } catch (err) {
      reply = { ok: false, error: `${cmd}: ${err.message}` };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  });
});
lines.on("close", () => queue.then(() => commands.close()).then(() => process.exit(0)));
