/**
 * zod, from one place: `npm run build` bundles this module's output into one file
 * (scripts/bundle-vendor.mjs), where Node would read zod's ~95 ES modules one by one.
 */
export * from 'zod';
