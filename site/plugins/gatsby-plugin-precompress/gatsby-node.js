const { precompressDir } = require("./precompress")

/**
 * Runs after every `gatsby build`, once public/ is complete, so a plain
 * `gatsby build` (CI, Dockerfile.frontend, scripts/build-site.sh) always
 * ships the .br/.gz siblings frontend-server serves to accepting clients.
 */
exports.onPostBuild = async ({ store, reporter }, pluginOptions) => {
  const publicDir = require("node:path").join(
    store.getState().program.directory,
    "public"
  )
  const activity = reporter.activityTimer("precompress public/ (brotli + gzip)")
  activity.start()
  const stats = await precompressDir(publicDir, pluginOptions)
  activity.end()
  reporter.info(
    `precompress: ${stats.files} files, ${stats.bytesIn} B -> ` +
      `br ${stats.bytesBr} B (${stats.brWritten} written), ` +
      `gz ${stats.bytesGz} B (${stats.gzWritten} written) in ${stats.ms} ms`
  )
}

exports.pluginOptionsSchema = ({ Joi }) =>
  Joi.object({
    extensions: Joi.array()
      .items(Joi.string().pattern(/^\.[a-z0-9]+$/))
      .description("File extensions to compress (lower case, with the dot)"),
    minSize: Joi.number()
      .integer()
      .min(0)
      .description("Files smaller than this many bytes are left alone"),
    brotliQuality: Joi.number().integer().min(0).max(11),
    gzipLevel: Joi.number().integer().min(1).max(9),
  })
