import { describe, expect, it } from 'vitest';
import { blocklistStrength, regexStrength, strippingIsSafe } from './validator-strength.js';

describe('what a "shell-safe" check admits', () => {
  it('a regex allowing spaces, dots and slashes lets words split and paths climb', () => {
    expect(regexStrength('/^[a-zA-Z0-9_\\-\\/. ]+$/')).toEqual({
      strict: false,
      lets: ['spaces', '..', 'a leading -'],
    });
  });

  it('an anchored name pattern is strict; only a leading - is left to the command', () => {
    expect(regexStrength('/^[a-zA-Z0-9_-]+$/')).toEqual({ strict: true, lets: ['a leading -'] });
    // PCRE anchors: dots and slashes still let a path climb.
    expect(regexStrength('/\\A[a-zA-Z0-9._\\-+=\\/]+\\z/')).toEqual({
      strict: false,
      lets: ['..', 'a leading -'],
    });
    expect(regexStrength('~^[a-f0-9]{7,40}$~i')).toEqual({ strict: true, lets: [] });
  });

  it('a blocklist of separators still lets spaces, quotes, # and .. through', () => {
    const lets = blocklistStrength(['`', '$(', '|', '&', ';', '\n']).lets;
    expect(lets).toEqual(['spaces', 'single quotes', 'double quotes', '#', '..', 'a leading -']);
  });

  it('an accessor stripping all but address characters is a sanitiser; stripping only quotes is not', () => {
    expect(strippingIsSafe('/[^0-9a-zA-Z.:%-]/')).toBe(true);
    expect(strippingIsSafe('/[\'"]/')).toBe(false);
    expect(strippingIsSafe('/[^a-z ]/')).toBe(false);
  });
});
