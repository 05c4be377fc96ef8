/*
 * Finality protocol of consensus/pbft.ts (PBFT with a collector), as a Promela model for spin.
 * Checked by `npm run model-check` (tools/model-check.ts); results in docs/consensus.md.
 *
 * n = 4 replicas with equal voting power, quorum = 3 (> 2/3), f = 1: replica 0 is Byzantine,
 * replicas 1..3 are honest. NV views (default 3: views 0..2). The Byzantine replica proposes exactly
 * one of the views — which one is chosen nondeterministically at start (or fixed with -DBYZ_VIEW=k,
 * so that an exhaustive check can run one position at a time) — and, as proposer, EQUIVOCATES: each honest replica may receive any value
 * a valid justification allows (view 0 needs none). As a voter it signs anything: its prepare, commit
 * and view-change votes count towards every quorum, and its view change may carry ANY prepare
 * certificate that exists (or none). Values are 1 and 2 (two conflicting decisions).
 *
 * Messages are abstracted into atomic protocol steps over the certificates that can exist:
 *   TIMEOUT  an honest replica moves to the next view, sending a view change with its lock;
 *   PROPOSE  the honest proposer of view v proposes once: in view 0 freely, later the value of the
 *            highest lock in SOME quorum of view changes it may have collected (any quorum: the
 *            network decides which arrive first), or freely when that quorum holds no lock;
 *   PREPARE  an honest replica in a view <= v prepares once in v: the honest proposer's value, or any
 *            value the Byzantine proposer can justify to it (members check the justification); it
 *            enters view v;
 *   (LOCK)   an honest replica raises its lock to any prepare certificate (2 honest prepares + the
 *            Byzantine's) of a later view that reaches it, at any time. A lock only matters through
 *            the view changes that carry it, so the model folds this step into TIMEOUT: the view
 *            change may carry the replica's lock or any existing certificate of a later view below
 *            the new view (and that becomes its lock) — the same view-change contents, fewer states;
 *   COMMIT   an honest replica in view v with a prepare certificate of v locks on it and commits once;
 *   DECIDE   an honest replica holding a commit certificate (2 honest commits + the Byzantine's) decides.
 * Safety: no two honest replicas decide different values (assertion in DECIDE).
 *
 * Symmetry: nothing in the model is tied to an honest replica's identity (proposals are per view,
 * certificates are counts), so after every step the three honest replica records are sorted into a
 * canonical order; states equal up to a permutation of honest replicas are stored once. A replica
 * that decided never acts again: its view and lock are cleared (what it sent stays in the view-change
 * and certificate records).
 *
 * Negative controls (compile with -D...): each removes one safety rule; spin must find a violation.
 *   NO_HIGHEST_LOCK   proposers ignore locks (and members no longer check the forced value);
 *   PREPARE_TWICE     an honest replica may prepare a second value in the same view.
 */

#ifndef NV
#define NV 3
#endif

#define H 3                     /* honest replicas 1..3, stored at index 0..2 */
#define IX(i, v) ((i) * NV + (v))
#define CX(v, x) ((v) * 3 + (x))

byte byzView;                   /* the view the Byzantine replica proposes */
byte view[H];
byte prepared[H * NV];          /* values prepared by honest replica i in view v: bit 1 = value 1, bit 2 = value 2 */
byte committed[H * NV];         /* value committed by i in v (0 none) */
byte lockV[H];                  /* lock: view + 1 (0 = no lock) */
byte lockX[H];                  /* lock: value */
byte decided[H];
bit vcSent[H * NV];             /* honest i sent a view change for view v ... */
byte vcLockV[H * NV];           /* ... carrying this lock (view + 1, 0 none) */
byte vcLockX[H * NV];
byte prop[NV];                  /* the honest proposer's value in view v (0 none yet) */
bit pcert[NV * 3];              /* a prepare certificate for (v, x) can be formed */
bit ccert[NV * 3];              /* a commit certificate for (v, x) can be formed */

/* scratch variables of one step: hidden, i.e. not part of the state vector */
hidden byte c, j, s, m, nvc, bestV, bestX, bv, bx, hv, hx, k, ok, t, a, b;
hidden int ka, kb;

/*
 * ok = 1 when value X can be justified for view V by some quorum of view changes: 2 or 3 honest
 * view changes for V (plus the Byzantine's, which claims any existing prepare certificate of an
 * earlier view, or none), whose highest lock is X — or holds no lock. View 0 needs no justification.
 */
inline justifiable(V, X) {
  ok = 0;
  if
  :: V == 0 -> ok = 1
  :: else ->
     s = 1;
     do
     :: s < 8 ->
        nvc = 0; bestV = 0; bestX = 0; m = 0;
        do
        :: m < H ->
           if
           :: (s >> m) & 1 ->
              if
              :: vcSent[IX(m, V)] ->
                 nvc++;
                 if
                 :: vcLockV[IX(m, V)] > bestV -> bestV = vcLockV[IX(m, V)]; bestX = vcLockX[IX(m, V)]
                 :: else -> skip
                 fi
              :: else -> nvc = 9      /* a member of the subset sent no view change: not a quorum */
              fi
           :: else -> skip
           fi;
           m++
        :: else -> break
        od;
        if
        :: nvc == 3 ->                /* three honest view changes: a quorum without the Byzantine */
#ifdef NO_HIGHEST_LOCK
           ok = 1
#else
           if
           :: bestV == 0 || bestX == X -> ok = 1
           :: else -> skip
           fi
#endif
        :: nvc == 2 ->                /* two honest + the Byzantine's, with every lock it may claim */
           bv = 0;                    /* bv = 0: it claims no lock; else the certificate of view bv - 1 */
           do
           :: bv <= V ->
              bx = 1;
              do
              :: bx <= 2 ->
                 hv = bestV; hx = bestX;
                 if
                 :: bv > 0 && pcert[CX(bv - 1, bx)] && bv > bestV -> hv = bv; hx = bx
                 :: bv > 0 && !pcert[CX(bv - 1, bx)] -> hv = 255        /* no such certificate: no claim */
                 :: else -> skip
                 fi;
#ifdef NO_HIGHEST_LOCK
                 if :: hv != 255 -> ok = 1 :: else -> skip fi;
#else
                 if :: hv != 255 && (hv == 0 || hx == X) -> ok = 1 :: else -> skip fi;
#endif
                 bx++
              :: else -> break
              od;
              bv++
           :: else -> break
           od
        :: else -> skip
        fi;
        s++
     :: else -> break
     od
  fi
}

/* ---- symmetry reduction: sort the honest replicas' records ---- */

inline keyOf(I, K1, K2) {
  K1 = ((view[I] * 4 + lockV[I]) * 3 + lockX[I]) * 3 + decided[I];
  K2 = 0;
  t = 0;
  do
  :: t < NV ->
     K1 = (K1 * 4 + prepared[IX(I, t)]) * 3 + committed[IX(I, t)];
     K2 = ((K2 * 2 + vcSent[IX(I, t)]) * 4 + vcLockV[IX(I, t)]) * 3 + vcLockX[IX(I, t)];
     t++
  :: else -> break
  od
}

inline swapRows(A, B) {
  t = view[A]; view[A] = view[B]; view[B] = t;
  t = lockV[A]; lockV[A] = lockV[B]; lockV[B] = t;
  t = lockX[A]; lockX[A] = lockX[B]; lockX[B] = t;
  t = decided[A]; decided[A] = decided[B]; decided[B] = t;
  m = 0;
  do
  :: m < NV ->
     t = prepared[IX(A, m)]; prepared[IX(A, m)] = prepared[IX(B, m)]; prepared[IX(B, m)] = t;
     t = committed[IX(A, m)]; committed[IX(A, m)] = committed[IX(B, m)]; committed[IX(B, m)] = t;
     t = vcSent[IX(A, m)]; vcSent[IX(A, m)] = vcSent[IX(B, m)]; vcSent[IX(B, m)] = t;
     t = vcLockV[IX(A, m)]; vcLockV[IX(A, m)] = vcLockV[IX(B, m)]; vcLockV[IX(B, m)] = t;
     t = vcLockX[IX(A, m)]; vcLockX[IX(A, m)] = vcLockX[IX(B, m)]; vcLockX[IX(B, m)] = t;
     m++
  :: else -> break
  od
}

inline orderPair(A, B) {
  keyOf(A, ka, c);
  keyOf(B, kb, j);
  if
  :: ka > kb || (ka == kb && c > j) -> swapRows(A, B)
  :: else -> skip
  fi
}

inline canonical() {
  orderPair(0, 1);
  orderPair(1, 2);
  orderPair(0, 1);
  c = 0; j = 0; t = 0; m = 0; ka = 0; kb = 0
}

/* ---- the protocol's steps (guard first: a step is a transition only when it applies) ---- */

#define TIMEOUT(I) \
  :: d_step { view[I] < NV - 1 && decided[I] == 0 -> \
       view[I]++; \
       vcSent[IX(I, view[I])] = 1; \
       vcLockV[IX(I, view[I])] = lockV[I]; \
       vcLockX[IX(I, view[I])] = lockX[I]; \
       canonical() }

/* TIMEOUT after raising the lock to the certificate (W, X) that reached the replica late */
#define TIMEOUT_LOCKED(I, W, X) \
  :: d_step { view[I] < NV - 1 && decided[I] == 0 && W <= view[I] && pcert[CX(W, X)] && W + 1 > lockV[I] -> \
       lockV[I] = W + 1; lockX[I] = X; \
       view[I]++; \
       vcSent[IX(I, view[I])] = 1; \
       vcLockV[IX(I, view[I])] = lockV[I]; \
       vcLockX[IX(I, view[I])] = lockX[I]; \
       canonical() }

#define PROPOSE(V, X) \
  :: d_step { V != byzView && prop[V] == 0 -> \
       justifiable(V, X); \
       if :: ok -> prop[V] = X :: else -> skip fi; \
       ok = 0 }

#ifdef PREPARE_TWICE
#define MAY_PREPARE(I, V, X) ((prepared[IX(I, V)] & X) == 0)
#else
#define MAY_PREPARE(I, V, X) (prepared[IX(I, V)] == 0)
#endif

#define PREPARE(I, V, X) \
  :: d_step { decided[I] == 0 && view[I] <= V && MAY_PREPARE(I, V, X) && (V == byzView || prop[V] == X) -> \
       if :: V == byzView -> justifiable(V, X) :: else -> ok = 1 fi; \
       if \
       :: ok -> \
          prepared[IX(I, V)] = prepared[IX(I, V)] | X; \
          view[I] = V; \
          c = 0; k = 0; \
          do :: k < H -> if :: prepared[IX(k, V)] & X -> c++ :: else -> skip fi; k++ :: else -> break od; \
          if :: c >= 2 -> pcert[CX(V, X)] = 1 :: else -> skip fi; \
          canonical() \
       :: else -> skip \
       fi; \
       ok = 0; k = 0; c = 0 }

#define COMMIT(I, X) \
  :: d_step { decided[I] == 0 && pcert[CX(view[I], X)] && committed[IX(I, view[I])] == 0 -> \
       if :: view[I] + 1 > lockV[I] -> lockV[I] = view[I] + 1; lockX[I] = X :: else -> skip fi; \
       committed[IX(I, view[I])] = X; \
       c = 0; k = 0; \
       do :: k < H -> if :: committed[IX(k, view[I])] == X -> c++ :: else -> skip fi; k++ :: else -> break od; \
       if :: c >= 2 -> ccert[CX(view[I], X)] = 1 :: else -> skip fi; \
       canonical(); k = 0; c = 0 }

#define DECIDE(I, V, X) \
  :: d_step { decided[I] == 0 && ccert[CX(V, X)] -> \
       decided[I] = X; \
       view[I] = 0; lockV[I] = 0; lockX[I] = 0; \
       assert(decided[0] == 0 || decided[0] == X); \
       assert(decided[1] == 0 || decided[1] == X); \
       assert(decided[2] == 0 || decided[2] == X); \
       canonical() }

#define PER_VIEW(V) \
  PROPOSE(V, 1) PROPOSE(V, 2) \
  PREPARE(0, V, 1) PREPARE(0, V, 2) PREPARE(1, V, 1) PREPARE(1, V, 2) PREPARE(2, V, 1) PREPARE(2, V, 2) \
  TIMEOUT_LOCKED(0, V, 1) TIMEOUT_LOCKED(0, V, 2) TIMEOUT_LOCKED(1, V, 1) TIMEOUT_LOCKED(1, V, 2) TIMEOUT_LOCKED(2, V, 1) TIMEOUT_LOCKED(2, V, 2) \
  DECIDE(0, V, 1) DECIDE(0, V, 2) DECIDE(1, V, 1) DECIDE(1, V, 2) DECIDE(2, V, 1) DECIDE(2, V, 2)

active proctype pbft() {
#ifdef BYZ_VIEW
  byzView = BYZ_VIEW;           /* one position per run: the runs together cover every position */
#else
  if
  :: byzView = 0
  :: byzView = 1
  :: byzView = 2
#if NV > 3
  :: byzView = 3
#endif
  fi;
#endif
end:
  do
  TIMEOUT(0) TIMEOUT(1) TIMEOUT(2)
  COMMIT(0, 1) COMMIT(0, 2) COMMIT(1, 1) COMMIT(1, 2) COMMIT(2, 1) COMMIT(2, 2)
  PER_VIEW(0)
  PER_VIEW(1)
  PER_VIEW(2)
#if NV > 3
  PER_VIEW(3)
#endif
  od
}
