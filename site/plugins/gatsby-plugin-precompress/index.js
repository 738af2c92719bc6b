// Gatsby loads this plugin through gatsby-node.js; index.js exposes the
// compression step itself for the unit tests (test/precompress.test.js).
module.exports = require("./precompress")
