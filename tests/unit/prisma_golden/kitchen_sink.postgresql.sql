-- CreateEnum
CREATE TYPE "level_kind" AS ENUM ('low', 'high');

-- CreateTable
CREATE TABLE "accounts" (
    "id" BIGSERIAL NOT NULL,
    "handle" VARCHAR(40) NOT NULL,
    "score" DOUBLE PRECISION NOT NULL DEFAULT 1.5,
    "ratio" DECIMAL(10,4) NOT NULL DEFAULT 0.25,
    "small" SMALLINT NOT NULL DEFAULT -3,
    "level" "level_kind" NOT NULL DEFAULT 'high',
    "tags" TEXT[],
    "nums" INTEGER[] DEFAULT ARRAY[1, 2]::INTEGER[],
    "blob" BYTEA,
    "meta" JSONB NOT NULL DEFAULT '{"a": 1}',
    "bornAt" TIMESTAMPTZ(3) NOT NULL DEFAULT '2020-01-02 03:04:05.678 +00:00',
    "day" DATE,
    "note" TEXT NOT NULL DEFAULT 'it''s',
    "external" UUID NOT NULL DEFAULT gen_random_uuid(),
    "flag" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Team" (
    "code" CHAR(8) NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "Team_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "Membership" (
    "accountId" BIGINT NOT NULL,
    "teamCode" CHAR(8) NOT NULL,
    "member_role" TEXT NOT NULL DEFAULT 'member',

    CONSTRAINT "Membership_pkey" PRIMARY KEY ("accountId","teamCode")
);

-- CreateTable
CREATE TABLE "AVeryLongModelNameThatGoesOnAndOnAndOnForeverAndEver" (
    "id" SERIAL NOT NULL,
    "anotherQuiteLongColumnNameThatIsLongIndeed" TEXT NOT NULL,
    "secondLongColumnNameForTheCompoundIndexToo" TEXT NOT NULL,

    CONSTRAINT "AVeryLongModelNameThatGoesOnAndOnAndOnForeverAndEver_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "_Follows" (
    "A" BIGINT NOT NULL,
    "B" BIGINT NOT NULL,

    CONSTRAINT "_Follows_AB_pkey" PRIMARY KEY ("A","B")
);

-- CreateIndex
CREATE UNIQUE INDEX "account_handle_unique" ON "accounts"("handle");

-- CreateIndex
CREATE INDEX "accounts_score_small_idx" ON "accounts"("score" DESC, "small");

-- CreateIndex
CREATE INDEX "membership_role_idx" ON "Membership"("member_role");

-- CreateIndex
CREATE UNIQUE INDEX "Membership_teamCode_member_role_key" ON "Membership"("teamCode", "member_role");

-- CreateIndex
CREATE UNIQUE INDEX "AVeryLongModelNameThatGoesOnAndOnAndOnForeverAndEver_anothe_key" ON "AVeryLongModelNameThatGoesOnAndOnAndOnForeverAndEver"("anotherQuiteLongColumnNameThatIsLongIndeed", "secondLongColumnNameForTheCompoundIndexToo");

-- CreateIndex
CREATE INDEX "_Follows_B_index" ON "_Follows"("B");

-- AddForeignKey
ALTER TABLE "Membership" ADD CONSTRAINT "Membership_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION;

-- AddForeignKey
ALTER TABLE "Membership" ADD CONSTRAINT "membership_team" FOREIGN KEY ("teamCode") REFERENCES "Team"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_Follows" ADD CONSTRAINT "_Follows_A_fkey" FOREIGN KEY ("A") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_Follows" ADD CONSTRAINT "_Follows_B_fkey" FOREIGN KEY ("B") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
