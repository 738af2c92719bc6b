/**
 * Gatsby configuration for the status site.
 *
 * Deliberately plugin-light: no image pipeline, no fonts, no analytics. The
 * browser that renders this site in CI has no network beyond loopback, and the
 * frontend-server only has to serve what `gatsby build` writes to public/.
 *
 * @type {import('gatsby').GatsbyConfig}
 */
module.exports = {
  siteMetadata: {
    title: "Rust Web Stack",
    description:
      "Status page of the Rust web stack: an api service behind a Rust frontend-server.",
  },
  // Gatsby 5's default, stated explicitly because frontend-server's
  // `/about` -> `/about/` redirect and the e2e deep-link check rely on it.
  trailingSlash: "always",
  plugins: [
    // Local plugin (plugins/gatsby-plugin-precompress): writes .br and .gz
    // siblings after the build so frontend-server can serve them as-is.
    "gatsby-plugin-precompress",
  ],
}
