/**
 * Requests this bot cannot do at all (it edits one still photo): video and
 * animation, sound, printing and sending, files and formats, 3D and new
 * viewpoints, and questions about the photo. Each gets one sentence saying why
 * and what it can do instead.
 */

const OUT_OF_SCOPE: ReadonlyArray<readonly [RegExp, string]> = [
  [
    // Video and motion: a request for one, not a description ("a car driving along the path", "video-game style").
    /\b(?:videos?(?![- ]?games?)|animat(?:e|ed|ion|ing)|gifs?|movies?|slide ?shows?|live photos?|in motion|slow[- ]?motion|frame rate)\b|^(?:make\s+.+?\s+)?(?:go|drive|run|move|walk|fly)\s+(?:.+\s+)?(?:faster|slower|forward|backwards?|away)$|^make\s+.+?\s+(?:talk|speak|move)$/i,
    "I edit single still photos, so I can't make video, animation or motion; I can change a pose or the scene instead, e.g. \"make it sunset\" or \"blur the background\".",
  ],
  [
    /\b(music|sound|sounds|audio|voice ?-?over|song|songs|soundtrack|volume|narration)\b/i,
    'I edit pictures only, so I can\'t add or change sound; I can add something you can see instead, e.g. "add a red balloon on the left".',
  ],
  [
    /^(?:print|send|e-?mail|upload|post|share|publish|tweet|save it to|attach it)\b|\b(instagram|facebook|twitter|whatsapp|tiktok|my email|my phone)\b/i,
    'I can only edit the photo and send the result back here, so I can\'t print, send or post it; save the result I send and share it from there.',
  ],
  [
    /\b(pdf|svg|3-?d model|three-dimensional model|compress(?:ed|ion)?|file size|\d+\s*(?:kb|mb|kilobytes?|megabytes?)|jpe?g file|png file|convert it to (?:a |an )?(?:file|format))\b/i,
    'I send results as images and can\'t change files, formats or 3D; I can change the picture\'s size instead, e.g. "resize to 50%" or "crop to a square".',
  ],
  [
    /\b(behind the camera|other side of|from (?:behind|above|below|another angle|a different angle)|back side of|reverse angle)\b/i,
    'I can only change what is in this photo, not show it from where the camera was not; I can extend its edges instead, e.g. "expand the image by 25% on the left".',
  ],
  [
    /\b(smell|smells|taste|tastes|scent)\b/i,
    'A photo cannot carry a smell or a taste; I can change how it looks instead, e.g. "make it warmer" or "make it sunset".',
  ],
  [
    /^(?:translate|write (?:a|an|me)\s+(?:poem|story|caption|description|essay)|describe|explain|summari[sz]e)\b/i,
    'I edit photos and don\'t write or translate text; I can remove text from the photo instead, e.g. "remove the text".',
  ],
];

/** Questions about the photo rather than edits of it. */
const QUESTION = /^(?:how many|how much|what(?:'s| is| are| kind| type| brand| breed| colou?r| species)?|who(?:'s| is)?|which|where|when|why|is (?:this|that|there|it)|are (?:these|those|there)|do you|does (?:this|it)|tell me|identify|count|recogni[sz]e|name the)\b/i;

/** One sentence saying why the request cannot be done here and what can; undefined when it is an edit this bot may do. */
export function outOfScope(text: string): string | undefined {
  const t = text.trim();
  for (const [re, why] of OUT_OF_SCOPE) if (re.test(t)) return why;
  if (QUESTION.test(t) || /\?\s*$/.test(t) && /^(?:what|who|how|which|where|why|is|are|does|do)\b/i.test(t)) {
    return 'That is a question about the photo, and I only edit photos; tell me what to change instead, e.g. "remove the car" or "make it brighter".';
  }
  return undefined;
}
