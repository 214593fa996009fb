// Saves a full-page screenshot of a URL as headless Chromium renders it, for pages checked by eye.
//
//   node player/screenshot.mjs URL OUT.png [BEARER_TOKEN]
import { chromium } from "playwright-core";

const [url, out, token] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: node screenshot.mjs URL OUT.png [BEARER_TOKEN]");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  if (token) await page.setExtraHTTPHeaders({ Authorization: `Bearer ${token}` });
  const response = await page.goto(url, { waitUntil: "networkidle" });
  await page.screenshot({ path: out, fullPage: true });
  console.log(JSON.stringify({ status: response.status(), title: await page.title() }));
} finally {
  await browser.close();
}
