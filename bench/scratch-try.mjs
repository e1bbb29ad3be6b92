import { measureResponsiveness } from "./lib/responsiveness.mjs";
const t0 = Date.now();
const r = await measureResponsiveness({ runs: 2, seconds: 4, log: console.log });
console.log(JSON.stringify(r, null, 1));
console.log("took", Date.now() - t0);
