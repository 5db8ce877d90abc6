// Types of weftdb/react (docs/API.md, "React"). React is a peer dependency.
import type { ReactNode, ReactElement } from 'react';
import type { Collection, Doc, Member, PresencePeer, Query, Rows, Space, Status } from './index.js';

export interface SpaceProviderProps {
  /** An open space, or null while the app opens one. */
  space?: Space | null;
  /** Or: opens the space on the client (once per mount); the provider closes it on unmount. */
  open?: (() => Promise<Space>) | null;
  /** A failed open (default: console.error). */
  onError?: ((e: unknown) => void) | null;
  children?: ReactNode;
}
export function SpaceProvider(props: SpaceProviderProps): ReactElement;

/** The nearest provider's space; null while it loads and on the server. */
export function useSpace(): Space | null;

/**
 * A live query's rows (the same array until the results change, each row
 * until its document changes); undefined while loading. A `where` function
 * must be stable (defined outside the component or with useCallback).
 */
export function useQuery<T extends Doc = Doc>(collection: Collection<T, any>, query?: Query): Rows<T> | undefined;
export function useQuery<T extends Doc = Doc>(collection: string, query?: Query): Rows<T> | undefined;

/**
 * A live query's ids in order: the same array until the ids or their order
 * change. For big lists: each row component reads its document with useDoc,
 * so one document's change re-renders that row alone.
 */
export function useIds(collection: string | Collection<any, any>, query?: Query): string[] | undefined;

/** One document (frozen; the same object until it changes); undefined when missing or loading. */
export function useDoc<T extends Doc = Doc>(collection: Collection<T, any>, id: string): Readonly<T> | undefined;
export function useDoc<T extends Doc = Doc>(collection: string, id: string): Readonly<T> | undefined;

/** A text field's current string; undefined while loading. */
export function useText(collection: string | Collection<any, any>, doc: string, field: string): string | undefined;

/** A list field (space.list) as an array, the same array until it changes; undefined while loading. Needs a weftdb with lists. */
export function useList<T = unknown>(collection: string | Collection<any, any>, doc: string, field: string): readonly T[] | undefined;

/** { state, pending, uploads }, the same object until it changes; undefined while loading. */
export function useStatus(): Status | undefined;

/** The other peers here with a presence state; undefined while loading. */
export function usePresence<S = unknown>(): PresencePeer<S>[] | undefined;

/** This device's rights (space.rights), re-rendered when a grant, a lapse or a removal changes them; undefined while loading. */
export function useRights(): 'read' | 'write' | 'admin' | undefined;

/** The space's members (space.members), the same array until they change; undefined while loading. */
export function useMembers(): readonly Member[] | undefined;
