/**
 * Precompression of a built site: for each compressible file `x` under a
 * directory, write `x.br` (brotli) and `x.gz` (gzip) next to it, the layout
 * nginx's gzip_static/brotli_static and frontend-server look for.
 *
 * Why node's zlib and not gatsby-plugin-brotli + gatsby-plugin-zopfli: same
 * brotli output (both are brotli quality 11), gzip -9 is within a few percent
 * of zopfli's size at a fraction of the time, and no extra dependencies
 * (site/README.md has the measurements).
 */
const fs = require("node:fs/promises")
const os = require("node:os")
const path = require("node:path")
const zlib = require("node:zlib")
const { promisify } = require("node:util")

const brotliCompress = promisify(zlib.brotliCompress)
const gzip = promisify(zlib.gzip)

/**
 * Text formats a Gatsby build emits. Images, fonts and archives are already
 * compressed and are never listed (see ARCHITECTURE.md, "Main choices").
 */
const DEFAULT_EXTENSIONS = [
  ".html",
  ".js",
  ".mjs",
  ".css",
  ".json",
  ".map",
  ".svg",
  ".xml",
  ".txt",
  ".webmanifest",
]

/**
 * Same threshold as frontend-server's on-the-fly gzip: below ~1 KiB the
 * saving is smaller than the cost of a second request path, and headers
 * dominate the response anyway.
 */
const DEFAULT_MIN_SIZE = 1024

const DEFAULTS = {
  extensions: DEFAULT_EXTENSIONS,
  minSize: DEFAULT_MIN_SIZE,
  brotliQuality: zlib.constants.BROTLI_MAX_QUALITY,
  gzipLevel: zlib.constants.Z_BEST_COMPRESSION,
}

/** Regular files under `dir`, recursively; symlinks are not followed. */
async function listFiles(dir) {
  const out = []
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await listFiles(full)))
    else if (entry.isFile()) out.push(full)
  }
  return out
}

/** Whether `file` is one `precompressDir` would compress (by name only). */
function isCandidate(file, extensions = DEFAULT_EXTENSIONS) {
  return extensions.includes(path.extname(file).toLowerCase())
}

/**
 * Writes `data` to `target` only if it is smaller than the original, and
 * gives it the original's mtime so a server deriving Last-Modified/ETag from
 * either file sees the same time. Returns the bytes written (0 if skipped).
 */
async function writeSibling(target, data, original) {
  if (data.length >= original.size) {
    // A stale sibling from an earlier build would now be wrong: remove it.
    await fs.rm(target, { force: true })
    return 0
  }
  await fs.writeFile(target, data)
  await fs.utimes(target, original.atime, original.mtime)
  return data.length
}

async function compressOne(file, opts) {
  const stat = await fs.stat(file)
  if (stat.size < opts.minSize) return null
  const input = await fs.readFile(file)
  const [br, gz] = await Promise.all([
    brotliCompress(input, {
      params: {
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        [zlib.constants.BROTLI_PARAM_QUALITY]: opts.brotliQuality,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.length,
      },
    }),
    gzip(input, { level: opts.gzipLevel }),
  ])
  return {
    size: input.length,
    br: await writeSibling(`${file}.br`, br, stat),
    gz: await writeSibling(`${file}.gz`, gz, stat),
  }
}

/**
 * Compresses every candidate file under `dir` (see DEFAULTS for options).
 * Resolves to counts and byte totals for the build log.
 */
async function precompressDir(dir, options = {}) {
  const opts = { ...DEFAULTS, ...stripUndefined(options) }
  const started = Date.now()
  const files = (await listFiles(dir)).filter(f => isCandidate(f, opts.extensions))

  // zlib's async calls run on libuv's thread pool; more in flight than
  // cores only adds memory.
  const limit = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)
  const stats = { files: 0, bytesIn: 0, bytesBr: 0, bytesGz: 0, brWritten: 0, gzWritten: 0 }
  let next = 0
  async function worker() {
    while (next < files.length) {
      const file = files[next++]
      const result = await compressOne(file, opts)
      if (!result) continue
      stats.files += 1
      stats.bytesIn += result.size
      stats.bytesBr += result.br
      stats.bytesGz += result.gz
      if (result.br) stats.brWritten += 1
      if (result.gz) stats.gzWritten += 1
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return { ...stats, ms: Date.now() - started }
}

// Gatsby passes its own `plugins` key and unset options; keep only ours.
function stripUndefined(options) {
  const out = {}
  for (const key of Object.keys(DEFAULTS)) {
    if (options[key] !== undefined) out[key] = options[key]
  }
  return out
}

module.exports = { precompressDir, isCandidate, DEFAULT_EXTENSIONS, DEFAULT_MIN_SIZE }
