/**
 * Names for containers created without one, as Docker makes them: an adjective and a scientist's or engineer's
 * surname (`swift_noether`). The lists are berth's own; 111 x 207 names make collisions rare, and the caller retries
 * on the ones that happen.
 */
export const ADJECTIVES: readonly string[] = words(`
able agile airy amber ample arctic astute balmy bashful blithe bouncy breezy bright brisk bubbly candid careful
cheery chipper civic classy clever cosmic cozy crafty crisp curious dapper daring deft devoted diligent dreamy
dusky earnest easy elated elegant epic exact fabled fearless fervent fluent fond frank frisky frugal gallant
genial gleeful glossy graceful grateful hardy hearty honest humble jaunty jovial joyful kind lively loyal lunar
mellow merry mighty modest nimble noble patient peppy placid plucky poised polite prompt proud quiet radiant
rapid rosy rugged rustic sage savvy shiny silent sincere smooth snappy solar sparkly spry steady stellar sturdy
sunny swift tidy tranquil trusty upbeat valiant velvet vivid warm wise witty zesty
`);

export const SURNAMES: readonly string[] = words(`
abbe agnesi alhazen alvarez ampere anning archimedes arrhenius avogadro babbage backus bardeen barton bassi
bayes becquerel bell benz bernoulli berners bessemer bethe birkeland blackwell bohr boltzmann boole borg bose
boyle bragg brahe brattain braun brunel buffon cajal cantor carnot carver cauchy cavendish cerf chandrasekhar
chebyshev clausius cori coulomb crick curie cuvier dalton daguerre davy dedekind descartes diesel dijkstra
dirac doppler edison ehrlich einstein engelbart eratosthenes erdos euclid euler faraday fermat fermi fibonacci
fleming fourier franklin fresnel frisch fulton gabor galvani gauss geiger gibbs gilbreth goodall gould gray
haber hahn halley hamilton hawking heaviside heisenberg helmholtz herschel hertz hilbert hodgkin hollerith
hooke hubble huygens hypatia jacquard jenner johnson joule kahn kelvin khayyam kilby kirchhoff knuth
kovalevskaya lagrange lamarr lamport laplace lavoisier leakey leavitt leibniz lemaitre liskov lister lorentz
lovelace lyell marconi maxwell mcclintock meitner mendel mendeleev michelson millikan minsky mirzakhani mohr
moog morse napier naur newton nobel noether noyce ohm oppenheimer ostrom otto pascal pauli pauling perlman
planck poincare polya priestley ptolemy raman ramanujan rayleigh riemann ritchie roentgen rubin russell
rutherford sagan sanger schrodinger shannon sinha snell somerville stallman stephenson stevin stokes sutherland
swan szilard tarjan telford tesla thompson thomson torvalds tu turing vaughan venter volta wallace watt wegener
whitney wiles wilkes wirth wu yalow young zuse zwicky
`);

function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/** How many random names are tried before the container's short id is used instead (Docker tries 6). */
export const NAME_TRIES = 6;

/** 0..n-1, as Docker's namesgenerator draws (math/rand: a name needs no cryptographic randomness, nor node:crypto). */
const randomInt = (n: number) => Math.floor(Math.random() * n);

/** A random name; from the second attempt on a digit is appended, which makes a free name likelier. */
export function randomName(attempt = 0): string {
  const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
  return attempt > 0 ? `${name}${randomInt(10)}` : name;
}

/**
 * A name no container has (`taken` says which are used; the caller holds the store lock, so that the check and the
 * creation are one step): random names first, then the 12-character short id, which is unique with the id.
 */
export function uniqueName(taken: (name: string) => boolean, id: string): string {
  for (let i = 0; i < NAME_TRIES; i++) {
    const n = randomName(i);
    if (!taken(n)) return n;
  }
  return id.slice(0, 12);
}
