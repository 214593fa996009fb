// Plays a published master playlist with hls.js in headless Chromium, as a viewer's browser would:
// from a page on another origin than the storage (so the bucket's CORS rules are exercised), it
// plays at least 3 s, switches to the highest and to the lowest level and keeps playing, switches
// to every audio language and plays on, shows every subtitle track and reads its cues, seeks near
// the end and waits for `ended`. Prints one JSON line; exits 0 only when every check passed.
//
//   node player/check_playback.mjs MASTER_URL [SCREENSHOT.png]
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

const [masterUrl, screenshot] = process.argv.slice(2);
if (!masterUrl) {
  console.error("usage: node check_playback.mjs MASTER_URL [SCREENSHOT.png]");
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const files = {
  "/": ["text/html", path.join(here, "check_playback.html")],
  "/hls.min.js": ["text/javascript", path.join(here, "node_modules/hls.js/dist/hls.min.js")],
};

// The page's own origin: a port of its own on loopback.
const server = createServer(async (request, response) => {
  const file = files[request.url];
  if (!file) {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { "Content-Type": file[0] }).end(await readFile(file[1]));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const pageUrl = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
  ],
});
let result;
try {
  const page = await browser.newPage({ viewport: { width: 960, height: 600 } });
  await page.goto(pageUrl);
  result = await page.evaluate((url) => window.checkPlayback(url), masterUrl);
  if (screenshot) await page.screenshot({ path: screenshot });
} catch (error) {
  result = { ok: false, failure: String(error) };
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
