// Unit tests for the local precompression plugin (run: npm test in site/).
// Real files in a temp dir, real zlib; nothing mocked.
const { test, after } = require("node:test")
const assert = require("node:assert/strict")
const crypto = require("node:crypto")
const fs = require("node:fs/promises")
const os = require("node:os")
const path = require("node:path")
const zlib = require("node:zlib")
const { precompressDir, isCandidate } = require("../plugins/gatsby-plugin-precompress")

const tempDirs = []
after(() => Promise.all(tempDirs.map(dir => fs.rm(dir, { recursive: true, force: true }))))

async function tempSite(files) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "precompress-test-"))
  tempDirs.push(dir)
  for (const [name, content] of Object.entries(files)) {
    const full = path.join(dir, name)
    await fs.mkdir(path.dirname(full), { recursive: true })
    await fs.writeFile(full, content)
  }
  return dir
}

const exists = file =>
  fs.access(file).then(
    () => true,
    () => false
  )

// Compressible text well above the 1 KiB threshold.
const BUNDLE = "function hello(){return 'hello world'}\n".repeat(200)

test("writes .br and .gz siblings that decode to the original, with its mtime", async () => {
  const dir = await tempSite({ "app-123.js": BUNDLE, "page-data/index/page-data.json": `{"x":"${"y".repeat(3000)}"}` })
  const when = new Date("2024-01-02T03:04:05Z")
  await fs.utimes(path.join(dir, "app-123.js"), when, when)

  const stats = await precompressDir(dir)

  assert.equal(stats.files, 2)
  assert.equal(stats.brWritten, 2)
  assert.equal(stats.gzWritten, 2)
  const js = path.join(dir, "app-123.js")
  assert.equal(zlib.brotliDecompressSync(await fs.readFile(`${js}.br`)).toString(), BUNDLE)
  assert.equal(zlib.gunzipSync(await fs.readFile(`${js}.gz`)).toString(), BUNDLE)
  assert.ok((await fs.stat(`${js}.br`)).size < BUNDLE.length / 5, "brotli should shrink repetitive JS")
  assert.equal((await fs.stat(`${js}.br`)).mtimeMs, when.getTime())
  assert.equal((await fs.stat(`${js}.gz`)).mtimeMs, when.getTime())
  assert.ok(await exists(path.join(dir, "page-data/index/page-data.json.br")), "nested dirs are walked")
})

test("leaves small files and already-compressed formats alone", async () => {
  const dir = await tempSite({
    "tiny.js": "x=1",
    "static/photo.png": Buffer.alloc(5000, 7),
    "font.woff2": Buffer.alloc(5000, 7),
    "index.html": `<!doctype html><p>${"text ".repeat(400)}</p>`,
  })

  const stats = await precompressDir(dir)

  assert.equal(stats.files, 1)
  assert.ok(await exists(path.join(dir, "index.html.br")))
  for (const name of ["tiny.js", "static/photo.png", "font.woff2"]) {
    assert.equal(await exists(path.join(dir, `${name}.br`)), false, `${name}.br`)
    assert.equal(await exists(path.join(dir, `${name}.gz`)), false, `${name}.gz`)
  }
})

test("drops a sibling that would not be smaller, removing a stale one", async () => {
  // Random bytes do not compress: both outputs come out larger than the input.
  const dir = await tempSite({
    "random.js": crypto.randomBytes(4096),
    "random.js.gz": "stale from an earlier build",
  })

  const stats = await precompressDir(dir)

  assert.equal(stats.files, 1)
  assert.equal(stats.brWritten, 0)
  assert.equal(stats.gzWritten, 0)
  assert.equal(await exists(path.join(dir, "random.js.br")), false)
  assert.equal(await exists(path.join(dir, "random.js.gz")), false)
})

test("rerunning is idempotent and never compresses its own output", async () => {
  const dir = await tempSite({ "styles.css": `body{color:red}\n`.repeat(300) })
  await precompressDir(dir)
  const first = await fs.readFile(path.join(dir, "styles.css.br"))

  const stats = await precompressDir(dir)

  assert.equal(stats.files, 1)
  assert.deepEqual(await fs.readFile(path.join(dir, "styles.css.br")), first)
  assert.equal(await exists(path.join(dir, "styles.css.br.br")), false)
  assert.equal(await exists(path.join(dir, "styles.css.gz.gz")), false)
})

test("honours the extensions and minSize options", async () => {
  const dir = await tempSite({ "a.js": BUNDLE, "b.css": BUNDLE })

  const stats = await precompressDir(dir, { extensions: [".css"], minSize: 10 })

  assert.equal(stats.files, 1)
  assert.ok(await exists(path.join(dir, "b.css.gz")))
  assert.equal(await exists(path.join(dir, "a.js.gz")), false)
})

test("candidates are chosen by extension, case-insensitively", () => {
  assert.equal(isCandidate("/x/APP.JS"), true)
  assert.equal(isCandidate("/x/site.webmanifest"), true)
  assert.equal(isCandidate("/x/app.js.br"), false)
  assert.equal(isCandidate("/x/image.avif"), false)
})
