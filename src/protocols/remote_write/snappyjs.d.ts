// snappyjs ships no type declarations; these are the two functions snappy.ts uses.
declare module 'snappyjs' {
  const snappy: {
    compress(input: Buffer): Buffer;
    uncompress(input: Buffer, maxLength?: number): Buffer;
  };
  export default snappy;
}
