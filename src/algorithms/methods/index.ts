// The built-in methods: importing this file registers them.
import './group-baselines.ts';
import './token-returns.ts';
import './gdpo-estimator.ts';
import './clip-losses.ts';
import './disco-loss.ts';
import './gvpo-loss.ts';
