// ESM entry: the same as index.js.
import cjs from "./index.js";

export const { startMailtape, binaryPath, DEFAULT_KEY } = cjs;
export default cjs;
