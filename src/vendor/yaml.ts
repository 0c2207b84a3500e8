/**
 * The parts of yaml that config files need, from one place: `npm run build` bundles
 * this module's output into one file (scripts/bundle-vendor.mjs), where Node would
 * require yaml's ~60 CommonJS files one by one.
 */
export { type Document, parseDocument } from 'yaml';
