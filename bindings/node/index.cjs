'use strict';
// CommonJS entry point of the duroxide package.
module.exports = require('./lib/duroxide.cjs');
