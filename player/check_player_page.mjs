// Drives the player page (index.html) as a viewer would, for the tests: the movie plays from HLS,
// the quality menu lists every level and switching to the lowest one takes effect, the audio and
// subtitle menus list the movie's languages and switching them takes effect, the source MP4
// plays beside it, the thumbnails load and hovering the timeline shows a storyboard tile. Prints
// one JSON line; exits 0 only when every check passed.
//
//   node player/check_player_page.mjs PAGE_URL [SCREENSHOT.png]
import { chromium } from "playwright-core";

const [pageUrl, screenshot] = process.argv.slice(2);
if (!pageUrl) {
  console.error("usage: node check_player_page.mjs PAGE_URL [SCREENSHOT.png]");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--autoplay-policy=no-user-gesture-required"],
});
const result = { ok: false, steps: [] };
const step = (text) => result.steps.push(text);
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  page.on("pageerror", (error) => step(`page error: ${error.message}`));
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.playerReady === true, null, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll("#quality option").length > 1, null, { timeout: 30000 });
  result.qualities = await page.$$eval("#quality option", (options) => options.map((o) => o.textContent));
  await page.waitForFunction(() => document.getElementById("hls").currentTime > 1, null, { timeout: 30000 });
  step("HLS plays");
  const lowest = await page.$eval("#quality", (select) => select.options[select.options.length - 1].value);
  await page.selectOption("#quality", lowest);
  await page.waitForFunction((level) => document.getElementById("level").dataset.level === level, lowest, { timeout: 30000 });
  result.level = await page.textContent("#level");
  step(`switched to ${result.level}`);
  result.audio = await page.$$eval("#audio option", (options) => options.map((o) => o.textContent));
  result.subtitles = await page.$$eval("#subtitles option", (options) => options.map((o) => o.textContent));
  if (result.audio.length > 1) {  // a viewer picks the other language
    const other = await page.$eval("#audio", (select) => select.options[select.options.length - 1].value);
    await page.selectOption("#audio", other);
    await page.waitForFunction((id) => document.getElementById("audio").dataset.track === id, other, { timeout: 30000 });
    step(`audio switched to ${result.audio.at(-1)}`);
  }
  if (result.subtitles.length > 1) {  // and turns the first subtitles on: their cues reach the video
    const first = await page.$eval("#subtitles", (select) => select.options[1].value);
    await page.selectOption("#subtitles", first);
    await page.$eval("#hls", (video) => { video.currentTime = 1; });
    await page.waitForFunction(() => [...document.getElementById("hls").textTracks].some((t) => t.mode === "showing" && t.cues && t.cues.length),
      null, { timeout: 30000 });
    step(`subtitles ${result.subtitles[1]} shown`);
  }
  await page.$eval("#mp4", (video) => video.play());
  await page.waitForFunction(() => document.getElementById("mp4").currentTime > 0.5, null, { timeout: 30000 });
  step("source MP4 plays");
  await page.waitForFunction(() => [...document.querySelectorAll("#thumbs img")].every((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: 30000 });
  result.thumbnails = await page.$$eval("#thumbs img", (images) => images.length);
  const bar = await page.$("#timeline");
  const box = await bar.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  result.tile = await page.$eval("#preview", (preview) => preview.dataset.tile || null);
  const sheet = result.tile && result.tile.split("#")[0];
  result.sheetLoads = sheet ? await page.evaluate(async (url) => (await fetch(url)).ok, sheet) : false;
  step(`storyboard tile ${result.tile}`);
  if (screenshot) await page.screenshot({ path: screenshot });
  result.ok = result.qualities.length > 1 && result.thumbnails > 0 && result.sheetLoads;
} catch (error) {
  result.failure = String(error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
