/**
 * CommonJS entry of the embed worker, the file the Piscina pool is given.
 *
 * Piscina loads a task file with require() first and falls back to import().
 * On Node >= 20.19, require() of an ES module succeeds through a synthetic
 * "facade" module, and Node asserts (aborting the whole process, not just the
 * worker) when instantiating that facade fails, as it does when the worker is
 * terminated at the wrong moment of the load. A vitest run died that way in
 * CI. This file is CommonJS, so require() loads it as plain CommonJS, and the
 * ES module is loaded by import(), which a terminated worker abandons cleanly.
 *
 * Piscina awaits `module.exports.default` when the export is not a function,
 * so exporting the import's promise keeps start-up semantics: the worker is
 * ready once the handler is, and a load error fails the worker's start.
 */
module.exports = import('./embed-worker.js').then((m: { default: unknown }) => m.default);
