import { describe, expect, it } from 'vitest';
import { outOfScope } from '../../../src/builder/english/scope.ts';

describe('outOfScope', () => {
  it.each(['make the sheep walk away in a video', 'add some background music', 'print this photo', 'send this picture to my email', 'convert it to a PDF', 'how many sheep are there?', 'show what is behind the camera'])(
    'refuses "%s" in one sentence that offers something else',
    (request) => {
      const why = outOfScope(request)!;
      expect(why.split(/(?<=[.!?])\s+(?=[A-Z])/)).toHaveLength(1);
      expect(why).toMatch(/\b(instead|share it)\b/);
    },
  );

  it.each(['remove the car driving on the road', 'transfer the image into an 8-bit pixel-art video-game style', 'add a man singing on the stage', 'make the woman turn her head'])('lets the edit "%s" through', (edit) => {
    expect(outOfScope(edit)).toBeUndefined();
  });
});
