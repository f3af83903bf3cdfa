export const kVersion = "0.1.0";
