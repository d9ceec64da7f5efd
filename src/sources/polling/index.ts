export { pollingFields, pollingSample } from './schema.js';
