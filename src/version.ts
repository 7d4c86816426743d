/** The server's version, as the API documents and the TEI and Ollama routes report it (package.json's). */
export const VERSION = '0.1.0';
