// The real-model corpus, part 1: the PaddleOCR models (the heaviest; part 2 runs on the other worker).
import { corpusTests } from './define.js';

corpusTests(['ppocr-v4-det', 'ppocr-v4-rec', 'ppocr-mobile-cls']);
