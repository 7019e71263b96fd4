// Entry of the start-up snapshot bundle (see scripts/bundle.sh): no exports, as the snapshot builder wants.
import './entry.js';
