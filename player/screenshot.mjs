// Saves a full-page screenshot of a URL as headless Chromium renders it, for pages checked by eye.
// An Airflow token goes in the `_token` cookie of the page's origin, as the Airflow UI keeps it, so
// that it never reaches other origins (the storage serving the page's images).
//
//   node player/screenshot.mjs URL OUT.png [AIRFLOW_TOKEN]
import { chromium } from "playwright-core";

const [url, out, token] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: node screenshot.mjs URL OUT.png [AIRFLOW_TOKEN]");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  if (token) await context.addCookies([{ name: "_token", value: token, url: new URL(url).origin }]);
  const page = await context.newPage();
  const response = await page.goto(url, { waitUntil: "networkidle" });
  await page.screenshot({ path: out, fullPage: true });
  const images = await page.$$eval("img", (all) => all.map((image) => image.complete && image.naturalWidth > 0));
  console.log(JSON.stringify({ status: response.status(), title: await page.title(), images }));
} finally {
  await browser.close();
}
