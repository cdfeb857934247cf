/**
 * compromise (the NLP library) and the English word list, loaded on first use
 * instead of at import. Together they take about a second to load, which every
 * start of `chat` and `serve` paid before showing its prompt or connecting;
 * now the first instruction pays it, or nobody does when `preloadEnglish()`
 * has run in the background once the bot is ready. compromise's CommonJS
 * bundle is the one loaded: the same version as its ES module sources, and
 * quicker to load than their hundreds of files.
 */
import { createRequire } from 'node:module';
import type Nlp from 'compromise';

const require = createRequire(import.meta.url);

let nlp: typeof Nlp | undefined;
let lexicon: Readonly<Record<string, unknown>> | undefined;
let english: ReadonlySet<string> | undefined;

/** compromise's `nlp` function, loaded on the first call. */
export function compromise(): typeof Nlp {
  nlp ??= require('compromise') as typeof Nlp;
  return nlp;
}

/** compromise's lexicon: the words it knows, inflections aside. */
export function lexiconWords(): Readonly<Record<string, unknown>> {
  lexicon ??= (compromise().model() as { one: { lexicon: Record<string, unknown> } }).one.lexicon;
  return lexicon;
}

/** The 275,000 words of an-array-of-english-words, read on the first call. */
export function englishWords(): ReadonlySet<string> {
  english ??= new Set(require('an-array-of-english-words') as string[]);
  return english;
}

let preloading: Promise<void> | undefined;

/**
 * Loads compromise and the word list on a later turn of the event loop, so the
 * first instruction does not wait for them; called once the prompt is shown or
 * the platform connected. A failure to load is left to the first instruction,
 * which reports it as any planning error.
 */
export function preloadEnglish(): Promise<void> {
  preloading ??= new Promise((resolve) => {
    setImmediate(() => {
      try {
        lexiconWords();
        englishWords();
      } catch {
        // Reported when an instruction needs them.
      }
      resolve();
    });
  });
  return preloading;
}
