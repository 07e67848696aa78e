-- CreateTable
CREATE TABLE "accounts" (
    "id" BIGINT NOT NULL PRIMARY KEY,
    "handle" TEXT NOT NULL,
    "score" REAL NOT NULL DEFAULT 1.5,
    "ratio" DECIMAL NOT NULL DEFAULT 0.25,
    "level" TEXT NOT NULL DEFAULT 'low',
    "blob" BLOB,
    "meta" JSONB NOT NULL DEFAULT {"a": 1},
    "bornAt" DATETIME NOT NULL DEFAULT '2020-01-02 03:04:05.678 +00:00',
    "note" TEXT NOT NULL DEFAULT 'it''s',
    "flag" BOOLEAN NOT NULL DEFAULT false
);

-- CreateTable
CREATE TABLE "Team" (
    "code" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "Membership" (
    "accountId" BIGINT NOT NULL,
    "teamCode" TEXT NOT NULL,
    "member_role" TEXT NOT NULL DEFAULT 'member',

    PRIMARY KEY ("accountId", "teamCode"),
    CONSTRAINT "Membership_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "accounts" ("id") ON DELETE CASCADE ON UPDATE NO ACTION,
    CONSTRAINT "Membership_teamCode_fkey" FOREIGN KEY ("teamCode") REFERENCES "Team" ("code") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Plain" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "label" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "_Follows" (
    "A" BIGINT NOT NULL,
    "B" BIGINT NOT NULL,
    CONSTRAINT "_Follows_A_fkey" FOREIGN KEY ("A") REFERENCES "accounts" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "_Follows_B_fkey" FOREIGN KEY ("B") REFERENCES "accounts" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "account_handle_unique" ON "accounts"("handle");

-- CreateIndex
CREATE INDEX "accounts_score_ratio_idx" ON "accounts"("score" DESC, "ratio");

-- CreateIndex
CREATE INDEX "membership_role_idx" ON "Membership"("member_role");

-- CreateIndex
CREATE UNIQUE INDEX "Membership_teamCode_member_role_key" ON "Membership"("teamCode", "member_role");

-- CreateIndex
CREATE UNIQUE INDEX "_Follows_AB_unique" ON "_Follows"("A", "B");

-- CreateIndex
CREATE INDEX "_Follows_B_index" ON "_Follows"("B");
